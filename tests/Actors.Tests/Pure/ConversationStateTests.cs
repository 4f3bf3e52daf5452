using System.Text;
using System.Text.Json;
using Akka.Sync.Actors.Conversations;
using Akka.Sync.Protocol;
using Xunit;

namespace Akka.Sync.Actors.Tests.Pure;

/// <summary>The conversation's rules with no actor system: decide, stamp, apply.</summary>
public sealed class ConversationStateTests
{
    private static readonly DateTime Now = new(2026, 11, 24, 12, 0, 0, DateTimeKind.Utc);
    private static readonly UserMessage Hello = new("""[{"cache_prompt":false,"type":"text","text":"hello"}]"""u8.ToArray(), Run: true);

    private static ConversationState Created() =>
        ConversationState.Empty(ConversationId.New()).Apply(new ConversationEvents.Created(ConversationId.New(), Dialect.V1, "t", Now.Ticks, ConversationState.HashKey("key")));

    private static ConversationState ApplyAll(ConversationState s, IEnumerable<EventEnvelope> events) => events.Aggregate(s, (acc, e) => acc.Apply(e));

    private static (ConversationState State, EventEnvelope[] Events) Do(ConversationState s, Decision d, DateTime? at = null)
    {
        var append = Assert.IsType<Decision.Append>(d);
        var stamped = s.Stamp(append.Drafts, at ?? Now);
        return (ApplyAll(s, stamped), stamped);
    }

    [Fact]
    public void A_message_appends_the_MessageEvent_then_the_status_changes()
    {
        var (state, events) = Do(Created(), Created().DecideMessage(Hello));
        Assert.Equal(["MessageEvent", "ConversationStateUpdateEvent"], events.Select(e => e.Kind));
        Assert.Equal("user", events[0].Source);
        Assert.Equal(ExecutionStatus.Running, state.Status);
        Assert.Equal(2, state.LastSeq);
    }

    [Fact]
    public void Stamping_gives_contiguous_seqs_distinct_increasing_timestamps_and_the_base_fields()
    {
        var s0 = Created();
        var (s1, first) = Do(s0, s0.DecideAppend([new IncomingEvent("X", "agent", null, "{}"u8.ToArray()), new IncomingEvent("Y", "environment", "0b6a4b0e-3f1a-4c1e-9a59-6c1f0d7e2b11", """{"v":1}"""u8.ToArray())], _ => null));
        Assert.Equal([1L, 2L], first.Select(e => e.Seq));
        // One microsecond apart: timestamps are unique within a conversation, so paging by timestamp skips nothing.
        Assert.Equal(first[0].TimestampTicks + 10, first[1].TimestampTicks);
        Assert.Equal("0b6a4b0e-3f1a-4c1e-9a59-6c1f0d7e2b11", first[1].Id);
        var json = JsonDocument.Parse(first[1].Json).RootElement;
        Assert.Equal(["kind", "id", "timestamp", "source", "v"], json.EnumerateObject().Select(p => p.Name));
        Assert.Equal("2026-11-24T12:00:00.000001", json.GetProperty("timestamp").GetString());

        // A clock that goes backwards does not make timestamps go backwards.
        var (_, later) = Do(s1, s1.DecideAppend([new IncomingEvent("X", "agent", null, "{}"u8.ToArray())], _ => null), Now.AddSeconds(-5));
        Assert.Equal(3, later[0].Seq);
        Assert.Equal(first[1].TimestampTicks + 10, later[0].TimestampTicks);
    }

    [Fact]
    public void Ids_already_known_are_not_drafted_again()
    {
        var s = Created();
        var d = Assert.IsType<Decision.Append>(s.DecideAppend(
            [new IncomingEvent("X", "agent", "a", "{}"u8.ToArray()), new IncomingEvent("X", "agent", "b", "{}"u8.ToArray())],
            id => id == "a" ? 1 : null));
        Assert.Equal(["b"], d.Drafts.Select(x => x.Id));
    }

    [Fact]
    public void Run_from_running_is_refused_as_a_conflict()
    {
        var (running, _) = Do(Created(), Created().DecideRun());
        Assert.Equal(ExecutionStatus.Running, running.Status);
        var refuse = Assert.IsType<Decision.Refuse>(running.DecideRun());
        Assert.Equal(ResultCode.Conflict, refuse.Code);
    }

    [Fact]
    public void Pause_appends_the_status_then_a_user_PauseEvent_and_nothing_the_second_time()
    {
        var s = Created();
        var (paused, events) = Do(s, s.DecidePause());
        Assert.Equal(["ConversationStateUpdateEvent", "PauseEvent"], events.Select(e => e.Kind));
        Assert.Equal("user", events[1].Source);
        Assert.Empty(Assert.IsType<Decision.Append>(paused.DecidePause()).Drafts);
    }

    [Fact]
    public void Rejecting_answers_every_unanswered_action_then_goes_idle()
    {
        var s = Created();
        var (s1, actions) = Do(s, s.DecideAppend(
        [
            new IncomingEvent("ActionEvent", "agent", null, """{"tool_name":"bash","tool_call_id":"c1"}"""u8.ToArray()),
            new IncomingEvent("ActionEvent", "agent", null, """{"tool_name":"bash","tool_call_id":"c2"}"""u8.ToArray()),
            new IncomingEvent("ActionEvent", "agent", null, """{"tool_name":"bash","tool_call_id":"c3"}"""u8.ToArray()),
            new IncomingEvent("AgentErrorEvent", "agent", null, """{"tool_call_id":"c3","error":"x"}"""u8.ToArray()),
            new IncomingEvent("ConversationStateUpdateEvent", "environment", null, """{"key":"execution_status","value":"waiting_for_confirmation"}"""u8.ToArray()),
        ], _ => null));
        Assert.Equal(2, s1.Pending.Count);

        var (s2, events) = Do(s1, s1.DecideConfirmation(accept: false, reason: ""));

        Assert.Equal(["UserRejectObservation", "UserRejectObservation", "ConversationStateUpdateEvent"], events.Select(e => e.Kind));
        Assert.Equal([actions[0].Id, actions[1].Id], events.Take(2).Select(e => JsonDocument.Parse(e.Json).RootElement.GetProperty("action_id").GetString()));
        Assert.Equal("User rejected the action", JsonDocument.Parse(events[0].Json).RootElement.GetProperty("rejection_reason").GetString());
        Assert.Equal(ExecutionStatus.Idle, s2.Status);
        Assert.Empty(s2.Pending);
    }

    [Fact]
    public void Accepting_runs_and_confirmation_elsewhere_is_a_conflict()
    {
        var s = Created();
        Assert.Equal(ResultCode.Conflict, Assert.IsType<Decision.Refuse>(s.DecideConfirmation(true, "")).Code);
        var (waiting, _) = Do(s, s.DecideAppend([new IncomingEvent("ConversationStateUpdateEvent", "environment", null,
            """{"key":"execution_status","value":"waiting_for_confirmation"}"""u8.ToArray())], _ => null));
        var (running, _) = Do(waiting, waiting.DecideConfirmation(true, ""));
        Assert.Equal(ExecutionStatus.Running, running.Status);
    }

    [Fact]
    public void A_conversation_that_does_not_exist_or_was_deleted_refuses_everything_as_not_found()
    {
        var absent = ConversationState.Empty(ConversationId.New());
        var deleted = Created().Apply(new ConversationEvents.Deleted(Now.Ticks));
        foreach (var s in new[] { absent, deleted })
        {
            Assert.Equal(ResultCode.NotFound, Assert.IsType<Decision.Refuse>(s.DecideMessage(Hello)).Code);
            Assert.Equal(ResultCode.NotFound, Assert.IsType<Decision.Refuse>(s.DecideRun()).Code);
            Assert.Equal(ResultCode.NotFound, Assert.IsType<Decision.Refuse>(s.DecidePause()).Code);
            Assert.Equal(ResultCode.NotFound, Assert.IsType<Decision.Refuse>(s.DecideConfirmation(true, "")).Code);
            Assert.Equal(ResultCode.NotFound, Assert.IsType<Decision.Refuse>(s.DecideAppend([], _ => null)).Code);
        }
    }

    [Fact]
    public void Keys_open_only_while_live_and_only_for_an_issued_hash()
    {
        var s = Created().Apply(new ConversationEvents.KeyIssued(ConversationState.HashKey("second")));
        Assert.True(s.Opens(ConversationState.HashKey("key")));
        Assert.True(s.Opens(ConversationState.HashKey("second")));
        Assert.False(s.Opens(ConversationState.HashKey("Key")));
        Assert.False(s.Opens(Encoding.UTF8.GetBytes("key")));
        Assert.False(s.Apply(new ConversationEvents.Deleted(Now.Ticks)).Opens(ConversationState.HashKey("key")));
    }

    [Fact]
    public void Applying_a_write_at_once_gives_the_state_its_events_give_one_by_one_and_tells_a_run_that_began_inside_it()
    {
        static IncomingEvent Status(string value) =>
            new("ConversationStateUpdateEvent", "environment", null, Encoding.UTF8.GetBytes($$"""{"key":"execution_status","value":"{{value}}"}"""));
        const string action = "0b6a4b0e-3f1a-4c1e-9a59-6c1f0d7e2b11", other = "1c7b5c1f-4a2b-4d2f-8b6a-7d2e1f8e3c22";
        var s0 = Created();
        var write = Assert.IsType<Decision.Append>(s0.DecideAppend(
        [
            new IncomingEvent("MessageEvent", "user", null, "{}"u8.ToArray()),
            Status("running"),
            new IncomingEvent("ActionEvent", "agent", action, """{"tool_name":"run","tool_call_id":"c1"}"""u8.ToArray()),
            new IncomingEvent("ActionEvent", "agent", other, """{"tool_name":"edit","tool_call_id":"c2"}"""u8.ToArray()),
            Status("idle"),
            new IncomingEvent("ObservationEvent", "environment", null, Encoding.UTF8.GetBytes($$"""{"action_id":"{{action}}","tool_call_id":"c1"}""")),
            new IncomingEvent("MessageEvent", "agent", null, "{}"u8.ToArray()),
        ], _ => null));
        var stamped = s0.Stamp(write.Drafts, Now);

        var oneByOne = ApplyAll(s0, stamped);
        var atOnce = s0.ApplyAll(stamped, out var started);
        AssertSameState(oneByOne, atOnce);
        Assert.Equal(ExecutionStatus.Idle, atOnce.Status); // it ran and stopped within the write
        Assert.True(started);
        Assert.Equal([other], atOnce.Pending.Select(p => p.ActionId));

        // Conversation events mixed with log entries are applied in their order too; no run began in these.
        var mixed = new object[] { stamped[0], new ConversationEvents.TitleChanged("new", Now.AddMinutes(1).Ticks), stamped[2] };
        AssertSameState(mixed.Aggregate(s0, (acc, e) => acc.Apply(e)), s0.ApplyAll(mixed, out var startedInMixed));
        Assert.False(startedInMixed);
        Assert.Equal("new", s0.ApplyAll(mixed, out _).Title);

        // Already running before the write: staying on running is not a new run.
        var running = ApplyAll(s0, s0.Stamp(Assert.IsType<Decision.Append>(s0.DecideAppend([Status("running")], _ => null)).Drafts, Now));
        running.ApplyAll(running.Stamp(Assert.IsType<Decision.Append>(running.DecideAppend([Status("running"), new IncomingEvent("X", "agent", null, "{}"u8.ToArray())], _ => null)).Drafts, Now), out var startedAgain);
        Assert.False(startedAgain);
    }

    internal static void AssertSameState(ConversationState expected, ConversationState actual)
    {
        Assert.Equal(expected with { Pending = [], KeyHashes = [] }, actual with { Pending = [], KeyHashes = [] });
        Assert.Equal(expected.Pending, actual.Pending);
        Assert.Equal(expected.KeyHashes, actual.KeyHashes);
    }
}
