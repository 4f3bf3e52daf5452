using Akka.Sync.Actors.Agents;
using Akka.Sync.Actors.Conversations;
using Akka.Sync.Protocol;
using Akka.Sync.Protocol.V0;
using Xunit;
using static Akka.Sync.Protocol.ConversationCommands;
using static Akka.Sync.Protocol.ConversationReplies;

namespace Akka.Sync.Actors.Tests.Pure;

/// <summary>
/// The conversation's own life with no actor system: create (new, repeated, after delete), title, delete, demo steps,
/// and the answers the write pipeline gives for each.
/// </summary>
public sealed class ConversationStateLifecycleTests
{
    private static readonly DateTime Now = new(2026, 11, 24, 12, 0, 0, DateTimeKind.Utc);
    private static readonly UserMessage Hello = new("""[{"type":"text","text":"hello"}]"""u8.ToArray(), Run: true);

    private static Create CreateCommand(ConversationId id, Dialect dialect = Dialect.V1, UserMessage? initial = null, string key = "k") =>
        new(id, dialect, "title", initial, ConversationState.HashKey(key));

    private static ConversationState ApplyAll(ConversationState s, IEnumerable<object> events) => events.Aggregate(s, (acc, e) => acc.Apply(e));

    [Fact]
    public void Creating_a_V1_conversation_with_a_message_stores_Created_then_the_message_and_its_status_change()
    {
        var id = ConversationId.New();
        var store = Assert.IsType<Decision.Store>(ConversationState.Empty(id).DecideCreate(CreateCommand(id, initial: Hello), Now));

        Assert.Equal(ResultCode.Created, store.Code);
        Assert.IsType<ConversationEvents.Created>(store.Events[0]);
        Assert.Equal(["MessageEvent", "ConversationStateUpdateEvent"], store.Events.Skip(1).Cast<EventEnvelope>().Select(e => e.Kind));
        Assert.Equal([1L, 2L], store.Events.Skip(1).Cast<EventEnvelope>().Select(e => e.Seq));
        var state = ApplyAll(ConversationState.Empty(id), store.Events);
        Assert.Equal(ExecutionStatus.Running, state.Status);
        Assert.Equal("title", state.Title);
    }

    [Fact]
    public void Creating_a_V0_conversation_stores_its_start_then_the_initial_message_that_starts_the_agent()
    {
        var id = ConversationId.New();
        var store = Assert.IsType<Decision.Store>(ConversationState.Empty(id).DecideCreate(CreateCommand(id, Dialect.V0, Hello), Now));
        var logged = store.Events.OfType<EventEnvelope>().ToArray();

        Assert.Equal(["1", "2", "3", "4"], logged.Select(e => e.Id));
        Assert.Equal(AgentState.Loading, V0Json.AgentStateOf(logged[0].Kind, logged[0].Json));
        Assert.Equal(AgentState.AwaitingUserInput, V0Json.AgentStateOf(logged[1].Kind, logged[1].Json));
        Assert.Equal("hello", DemoAgentActor.V0UserText(logged[2].Json));
        Assert.Equal(AgentState.Running, ApplyAll(ConversationState.Empty(id), store.Events).AgentState);
        Assert.True(logged.Zip(logged.Skip(1)).All(p => p.Item2.TimestampTicks > p.Item1.TimestampTicks));
    }

    [Fact]
    public void A_repeated_create_only_issues_another_key_and_a_create_after_delete_is_a_conflict()
    {
        var id = ConversationId.New();
        var created = ApplyAll(ConversationState.Empty(id), Assert.IsType<Decision.Store>(ConversationState.Empty(id).DecideCreate(CreateCommand(id), Now)).Events);

        var again = Assert.IsType<Decision.Store>(created.DecideCreate(CreateCommand(id, initial: Hello, key: "second"), Now));
        Assert.Equal(ResultCode.Ok, again.Code);
        var key = Assert.IsType<ConversationEvents.KeyIssued>(Assert.Single(again.Events));
        Assert.Equal(ConversationState.HashKey("second"), key.KeyHash);

        var deleted = created.Apply(Assert.Single(Assert.IsType<Decision.Store>(created.DecideDelete(Now)).Events));
        var refuse = Assert.IsType<Decision.Refuse>(deleted.DecideCreate(CreateCommand(id), Now));
        Assert.Equal((ResultCode.Conflict, "Conversation was deleted"), (refuse.Code, refuse.Detail));
    }

    [Fact]
    public void Title_and_delete_store_one_event_while_live_and_are_not_found_otherwise()
    {
        var id = ConversationId.New();
        var absent = ConversationState.Empty(id);
        Assert.Equal(Decision.NotFound, absent.DecideTitle("x", Now));
        Assert.Equal(Decision.NotFound, absent.DecideDelete(Now));

        var live = ApplyAll(absent, Assert.IsType<Decision.Store>(absent.DecideCreate(CreateCommand(id), Now)).Events);
        var title = Assert.IsType<ConversationEvents.TitleChanged>(Assert.Single(Assert.IsType<Decision.Store>(live.DecideTitle("new", Now.AddMinutes(1))).Events));
        Assert.Equal(("new", Now.AddMinutes(1).Ticks), (title.Title, title.AtTicks));
        Assert.Equal("new", live.Apply(title).Title);
    }

    [Fact]
    public void A_demo_step_lands_only_while_a_run_is_under_way()
    {
        var id = ConversationId.New();
        var idle = ApplyAll(ConversationState.Empty(id), Assert.IsType<Decision.Store>(ConversationState.Empty(id).DecideCreate(CreateCommand(id), Now)).Events);
        IReadOnlyList<Draft> step = DemoAgentActor.Finish();

        Assert.IsType<Decision.Refuse>(idle.DecideAgentStep(step));
        var running = ApplyAll(idle, idle.Stamp(Assert.IsType<Decision.Append>(idle.DecideRun()).Drafts, Now));
        Assert.Same(step, Assert.IsType<Decision.Append>(running.DecideAgentStep(step)).Drafts);
    }

    [Fact]
    public void Refusals_and_journal_failures_are_answered_in_the_reply_type_the_caller_expects()
    {
        Assert.Equal(new CreateResult(ResultCode.Conflict, "gone", null), WriteReplies.Refusal(new CreateResult(ResultCode.Created, null, null), ResultCode.Conflict, "gone"));
        var append = Assert.IsType<AppendResult>(WriteReplies.JournalUnavailable(new AppendResult(ResultCode.Ok, null, [])));
        Assert.Equal((ResultCode.Unavailable, "journal unavailable", 0), (append.Code, append.Detail, append.Items.Length));
        Assert.Equal(new DemoAgentActor.StepRefused(7), WriteReplies.Refusal(new DemoAgentActor.StepDone(7), ResultCode.Conflict, "over"));
        Assert.Equal(CommandResult.NotFound, WriteReplies.Refusal(CommandResult.Ok, ResultCode.NotFound, "Conversation not found"));
    }

    [Fact]
    public void A_durable_write_completes_the_answer_with_what_it_wrote()
    {
        var created = WriteReplies.Success(new CreateResult(ResultCode.Created, null, null), new Decision.Store([], ResultCode.Ok), []);
        Assert.Equal(new CreateResult(ResultCode.Ok, null, null), created);
        Assert.Same(CommandResult.Ok, WriteReplies.Success(CommandResult.Ok, Decision.Nothing, []));
    }
}
