using System.Text.Json;
using Akka.Actor;
using Akka.Sync.Actors.Conversations;
using Akka.Sync.Actors.Tests.Support;
using Akka.Sync.Protocol;
using Xunit;
using Xunit.Abstractions;
using static Akka.Sync.Protocol.ConversationCommands;
using static Akka.Sync.Protocol.ConversationQueries;
using static Akka.Sync.Protocol.ConversationReplies;
using static Akka.Sync.Protocol.ConversationSubscription;
using Filter = Akka.Sync.Protocol.ConversationQueries.EventFilter;

namespace Akka.Sync.Actors.Tests;

/// <summary>Execution-status transitions and their refusals, driven by commands through a live entity.</summary>
public sealed class ConversationActorCommandTests(ITestOutputHelper output) : SqliteActorTest(output)
{
    private ExecutionStatus Status(IActorRef region, ConversationId id)
    {
        region.Tell(new GetInfo(id));
        return ExpectMsg<InfoResult>(Wait).Info!.Status;
    }

    private JsonElement[] Stored(IActorRef region, ConversationId id, string? kind = null)
    {
        region.Tell(new SearchEvents(id, new Filter(kind, null, null, null), null, 100, false));
        var page = ExpectMsg<EventPage>(Wait);
        Assert.Equal(ResultCode.Ok, page.Code);
        return page.Items.Select(b => JsonDocument.Parse(b).RootElement.Clone()).ToArray();
    }

    private string[] Kinds(IActorRef region, ConversationId id) =>
        Stored(region, id).Select(e => e.GetProperty("kind").GetString()!).ToArray();

    private string[] StatusValues(IActorRef region, ConversationId id) =>
        Stored(region, id, "ConversationStateUpdateEvent").Select(e => e.GetProperty("value").GetString()!).ToArray();

    private static IncomingEvent StatusEvent(string status) =>
        Event("ConversationStateUpdateEvent", "environment", body: $$"""{"key":"execution_status","value":"{{status}}"}""");

    [Fact]
    public void Commands_for_an_unknown_conversation_answer_not_found()
    {
        var region = Region(Settings());
        var id = ConversationId.New();

        region.Tell(new Run(id));
        Assert.Equal(ResultCode.NotFound, ExpectMsg<CommandResult>(Wait).Code);
        Assert.Equal(ResultCode.NotFound, Append(region, id, Event()).Code);
        region.Tell(new GetInfo(id));
        Assert.Equal(ResultCode.NotFound, ExpectMsg<InfoResult>(Wait).Code);
        region.Tell(new CountEvents(id, Filter.None));
        Assert.Equal(ResultCode.NotFound, ExpectMsg<EventCount>(Wait).Code);
        Assert.Equal(0, JournalRows(id));
    }

    [Fact]
    public void Run_from_idle_appends_running_and_run_from_running_is_a_conflict_that_changes_nothing()
    {
        var region = Region(Settings());
        var id = CreateConversation(region);
        region.Tell(new Run(id));
        Assert.Equal(ResultCode.Ok, ExpectMsg<CommandResult>(Wait).Code);

        region.Tell(new Run(id));

        var conflict = ExpectMsg<CommandResult>(Wait);
        Assert.Equal(ResultCode.Conflict, conflict.Code);
        Assert.Equal("Conversation already running", conflict.Detail);
        Assert.Equal(["running"], StatusValues(region, id));
        Assert.Equal(ExecutionStatus.Running, Status(region, id));
    }

    [Fact]
    public void Pausing_twice_appends_one_PauseEvent()
    {
        var region = Region(Settings());
        var id = CreateConversation(region);

        // Back to back: the second pause decides on the first's in-flight outcome.
        region.Tell(new Pause(id));
        region.Tell(new Pause(id));
        Assert.Equal(ResultCode.Ok, ExpectMsg<CommandResult>(Wait).Code);
        Assert.Equal(ResultCode.Ok, ExpectMsg<CommandResult>(Wait).Code);

        Assert.Equal(["ConversationStateUpdateEvent", "PauseEvent"], Kinds(region, id));
        Assert.Equal(["paused"], StatusValues(region, id));
        Assert.Equal(ExecutionStatus.Paused, Status(region, id));
    }

    [Fact]
    public void A_message_on_a_finished_conversation_resets_it_to_idle()
    {
        var region = Region(Settings());
        var id = CreateConversation(region);
        Assert.Equal(ResultCode.Ok, Append(region, id, StatusEvent("finished")).Code);
        Assert.Equal(ExecutionStatus.Finished, Status(region, id));

        region.Tell(new SendMessage(id, new UserMessage("""[{"type":"text","text":"again"}]"""u8.ToArray(), Run: false)));
        Assert.Equal(ResultCode.Ok, ExpectMsg<CommandResult>(Wait).Code);

        Assert.Equal(ExecutionStatus.Idle, Status(region, id));
        Assert.Equal(["ConversationStateUpdateEvent", "MessageEvent", "ConversationStateUpdateEvent"], Kinds(region, id));
        Assert.Equal(["finished", "idle"], StatusValues(region, id));
    }

    [Fact]
    public void Confirmation_when_not_waiting_is_a_conflict_that_appends_nothing()
    {
        var region = Region(Settings());
        var id = CreateConversation(region);

        region.Tell(new RespondToConfirmation(id, false, "no"));
        Assert.Equal(ResultCode.Conflict, ExpectMsg<CommandResult>(Wait).Code);
        region.Tell(new RespondToConfirmation(id, true, ""));
        Assert.Equal(ResultCode.Conflict, ExpectMsg<CommandResult>(Wait).Code);

        Assert.Equal(0, Count(region, id));
        Assert.Equal(ExecutionStatus.Idle, Status(region, id));
    }

    [Fact]
    public void Rejecting_answers_each_pending_action_with_a_UserRejectObservation_then_goes_idle()
    {
        var region = Region(Settings());
        var id = CreateConversation(region);
        var subscriber = CreateTestProbe();
        var items = Append(region, id,
            Event("ActionEvent", body: """{"tool_name":"bash","tool_call_id":"c1"}"""),
            Event("ActionEvent", body: """{"tool_name":"bash","tool_call_id":"c2"}"""),
            Event("ActionEvent", body: """{"tool_name":"editor","tool_call_id":"c3"}"""),
            Event("ObservationEvent", "environment", body: """{"tool_call_id":"c1"}"""),
            StatusEvent("waiting_for_confirmation")).Items;
        Assert.Equal(ExecutionStatus.WaitingForConfirmation, Status(region, id));
        region.Tell(new Subscribe(id, subscriber.Ref, ReplayFrom.LiveOnly, Dialect.V1));
        ExpectMsg<Subscribed>(Wait);

        region.Tell(new RespondToConfirmation(id, false, "too risky"));
        Assert.Equal(ResultCode.Ok, ExpectMsg<CommandResult>(Wait).Code);

        // c1 was already answered; c2 and c3 are rejected in order, then the status goes idle.
        var published = ExpectPublished(subscriber, 3);
        Assert.Equal(["UserRejectObservation", "UserRejectObservation", "ConversationStateUpdateEvent"], published.Select(e => e.Kind));
        Assert.Equal([6L, 7L, 8L], published.Select(e => e.Seq));
        var rejections = Stored(region, id, "UserRejectObservation");
        Assert.Equal([items[1].Id, items[2].Id], rejections.Select(r => r.GetProperty("action_id").GetString()));
        Assert.Equal(["c2", "c3"], rejections.Select(r => r.GetProperty("tool_call_id").GetString()));
        Assert.All(rejections, r => Assert.Equal("too risky", r.GetProperty("rejection_reason").GetString()));
        Assert.Equal(ExecutionStatus.Idle, Status(region, id));

        // Nothing is pending any more: a second reject is a conflict.
        region.Tell(new RespondToConfirmation(id, false, "again"));
        Assert.Equal(ResultCode.Conflict, ExpectMsg<CommandResult>(Wait).Code);
        Assert.Equal(8, Count(region, id));
    }

    [Fact]
    public void Accepting_a_confirmation_runs_and_rejects_nothing()
    {
        var region = Region(Settings());
        var id = CreateConversation(region);
        Append(region, id, Event("ActionEvent", body: """{"tool_name":"bash","tool_call_id":"c1"}"""), StatusEvent("waiting_for_confirmation"));

        region.Tell(new RespondToConfirmation(id, true, ""));
        Assert.Equal(ResultCode.Ok, ExpectMsg<CommandResult>(Wait).Code);

        Assert.Equal(ExecutionStatus.Running, Status(region, id));
        Assert.Empty(Stored(region, id, "UserRejectObservation"));
        Assert.Equal(["waiting_for_confirmation", "running"], StatusValues(region, id));
    }

    [Fact]
    public void Ingested_status_changes_drive_the_state_machine()
    {
        var region = Region(Settings());
        var id = CreateConversation(region);

        Append(region, id, StatusEvent("running"));
        Assert.Equal(ExecutionStatus.Running, Status(region, id));
        region.Tell(new Run(id));
        Assert.Equal(ResultCode.Conflict, ExpectMsg<CommandResult>(Wait).Code);

        Append(region, id, StatusEvent("error"));
        region.Tell(new Run(id));
        Assert.Equal(ResultCode.Ok, ExpectMsg<CommandResult>(Wait).Code);
        Assert.Equal(["running", "error", "running"], StatusValues(region, id));
    }

    /// <summary>
    /// The entity handles every message of a conversation's life itself — commands, queries, subscriptions, its
    /// snapshots and index segments, a restart that recovers from them — none reaches Akka's unhandled-message path.
    /// (It dispatches with one switch, not Akka's per-instance handler tables: a message type left out of the switch
    /// would show here.)
    /// </summary>
    [Fact]
    public void No_message_of_a_conversations_life_goes_unhandled()
    {
        var unhandled = CreateTestProbe();
        Sys.EventStream.Subscribe(unhandled.Ref, typeof(Akka.Event.UnhandledMessage));
        var region = Region(Settings(snapshotEvery: 5));
        var id = CreateConversation(region);
        var subscriber = CreateTestProbe();
        region.Tell(new Subscribe(id, subscriber.Ref, ReplayFrom.All, Dialect.V1));
        ExpectMsg<Subscribed>(Wait);
        for (var i = 0; i < 4; i++) AppendOk(region, id, 3); // past SnapshotEvery: a state snapshot and an index segment
        ExpectPublished(subscriber, 12);
        region.Tell(new SetTitle(id, "renamed"));
        ExpectMsg<CommandResult>(Wait);
        region.Tell(new GetInfo(id));
        Assert.Equal("renamed", ExpectMsg<InfoResult>(Wait).Info!.Title);
        region.Tell(new SearchEvents(id, Filter.None, null, 5, false));
        Assert.Equal(5, ExpectMsg<EventPage>(Wait).Items.Length);
        region.Tell(new Unsubscribe(id, subscriber.Ref));
        AwaitAssert(() => Assert.True(SnapshotRows(id) > 0), Wait);

        RestartEntity(region, id); // recovers from the snapshot, loading the index segments beside the journal
        Assert.Equal(12, Count(region, id));
        AppendOk(region, id, 1);
        unhandled.ExpectNoMsg(TimeSpan.FromMilliseconds(500));
    }
}
