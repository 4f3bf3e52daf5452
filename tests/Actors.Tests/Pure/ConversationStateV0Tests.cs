using System.Text.Json;
using Akka.Sync.Actors.Conversations;
using Akka.Sync.Protocol;
using Akka.Sync.Protocol.V0;
using Xunit;

namespace Akka.Sync.Actors.Tests.Pure;

/// <summary>The V0 rules of a conversation (CONTRACT §6) with no actor system.</summary>
public sealed class ConversationStateV0Tests
{
    private static readonly DateTime Now = new(2026, 11, 24, 12, 0, 0, DateTimeKind.Utc);

    private static ConversationState Apply(ConversationState s, IReadOnlyList<Draft> drafts) =>
        s.Stamp(drafts, Now).Aggregate(s, (acc, e) => acc.Apply(e));

    private static ConversationState NewV0()
    {
        var id = ConversationId.New();
        var s = ConversationState.Empty(id).Apply(new ConversationEvents.Created(id, Dialect.V0, null, Now.Ticks, ConversationState.HashKey("k")));
        return Apply(s, ConversationState.V0Start());
    }

    private static V0Incoming Parse(string json) =>
        V0Json.TryParse(JsonDocument.Parse(json).RootElement, EventSources.User, out var e, out var error) ? e : throw new InvalidOperationException(error);

    [Fact]
    public void A_new_v0_conversation_loads_then_awaits_the_user_with_integer_ids()
    {
        var id = ConversationId.New();
        var created = ConversationState.Empty(id).Apply(new ConversationEvents.Created(id, Dialect.V0, null, Now.Ticks, []));
        var events = created.Stamp(ConversationState.V0Start(), Now);
        Assert.Equal(["1", "2"], events.Select(e => e.Id));
        Assert.Equal(AgentState.Loading, V0Json.AgentStateOf(events[0].Kind, events[0].Json));
        var state = events.Aggregate(created, (s, e) => s.Apply(e));
        Assert.Equal(AgentState.AwaitingUserInput, state.AgentState);
        Assert.Equal(AgentState.AwaitingUserInput, state.Info.AgentState);
        Assert.Equal(1, JsonDocument.Parse(events[0].Json).RootElement.GetProperty("id").GetInt64());
    }

    [Fact]
    public void A_user_message_starts_the_agent_and_a_second_one_while_running_only_adds_the_message()
    {
        var s = NewV0();
        var first = Assert.IsType<Decision.Append>(s.DecideUserAction(Parse("""{"action":"message","args":{"content":"hi"}}""")));
        Assert.Equal(["action:message", "observation:agent_state_changed"], first.Drafts.Select(d => d.Kind));
        var running = Apply(s, first.Drafts);
        Assert.Equal(AgentState.Running, running.AgentState);
        Assert.True(running.IsRunning);
        var second = Assert.IsType<Decision.Append>(running.DecideUserAction(Parse("""{"action":"message","args":{"content":"more"}}""")));
        Assert.Equal(["action:message"], second.Drafts.Select(d => d.Kind));
    }

    [Fact]
    public void Change_agent_state_appends_the_action_and_the_observation_nothing_when_unchanged_and_refuses_the_forbidden()
    {
        var s = NewV0();
        var pause = Assert.IsType<Decision.Append>(s.DecideUserAction(V0Json.ChangeAgentState(AgentState.Paused)));
        Assert.Equal(["action:change_agent_state", "observation:agent_state_changed"], pause.Drafts.Select(d => d.Kind));
        Assert.Equal([EventSources.User, EventSources.Environment], pause.Drafts.Select(d => d.Source));
        var paused = Apply(s, pause.Drafts);
        Assert.Empty(Assert.IsType<Decision.Append>(paused.DecideUserAction(V0Json.ChangeAgentState(AgentState.Paused))).Drafts);
        var refused = Assert.IsType<Decision.Refuse>(paused.DecideUserAction(V0Json.ChangeAgentState(AgentState.UserConfirmed)));
        Assert.Equal(ResultCode.BadRequest, refused.Code);
        Assert.Equal(ResultCode.BadRequest, Assert.IsType<Decision.Refuse>(paused.DecideUserAction(V0Json.ChangeAgentState(AgentState.Finished))).Code);
    }

    [Fact]
    public void Agents_set_any_state_through_ingest()
    {
        var s = Apply(NewV0(), Assert.IsType<Decision.Append>(NewV0().DecideV0Append([V0Json.AgentStateChanged(AgentState.RateLimited)])).Drafts);
        Assert.Equal(AgentState.RateLimited, s.AgentState);
    }

    [Fact]
    public void Each_dialect_refuses_the_others_commands()
    {
        var v0 = NewV0();
        Assert.Equal(ResultCode.BadRequest, Assert.IsType<Decision.Refuse>(v0.DecideRun()).Code);
        Assert.Equal(ResultCode.BadRequest, Assert.IsType<Decision.Refuse>(v0.DecideAppend([], _ => null)).Code);
        var id = ConversationId.New();
        var v1 = ConversationState.Empty(id).Apply(new ConversationEvents.Created(id, Dialect.V1, null, Now.Ticks, []));
        var refusal = Assert.IsType<Decision.Refuse>(v1.DecideUserAction(V0Json.ChangeAgentState(AgentState.Paused)));
        Assert.Contains("wrong protocol: conversation is v1", refusal.Detail);
        Assert.Equal(ResultCode.BadRequest, Assert.IsType<Decision.Refuse>(v1.DecideV0Append([])).Code);
        Assert.Null(v1.Info.AgentState);
    }

    [Fact]
    public void A_v0_write_applied_at_once_gives_the_agent_state_its_events_give_one_by_one_and_tells_a_run_that_began_inside_it()
    {
        var s = NewV0();
        var write = Assert.IsType<Decision.Append>(s.DecideV0Append(
            [V0Json.AgentStateChanged(AgentState.Running), V0Json.AgentStateChanged(AgentState.AwaitingUserInput)]));
        var stamped = s.Stamp(write.Drafts, Now);
        var atOnce = s.ApplyAll(stamped, out var started);
        ConversationStateTests.AssertSameState(stamped.Aggregate(s, (acc, e) => acc.Apply(e)), atOnce);
        Assert.Equal(AgentState.AwaitingUserInput, atOnce.AgentState);
        Assert.True(started);
        Assert.Equal(stamped[^1].Seq, atOnce.LastSeq);
    }
}
