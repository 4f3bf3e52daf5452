using System.Text;
using Akka.Actor;
using Akka.Sync.Actors.Conversations;
using Akka.Sync.Actors.Tests.Support;
using Akka.Sync.Protocol;
using Microsoft.Data.Sqlite;
using Xunit;
using Xunit.Abstractions;
using static Akka.Sync.Protocol.ConversationCommands;
using static Akka.Sync.Protocol.ConversationQueries;
using static Akka.Sync.Protocol.ConversationReplies;
using static Akka.Sync.Protocol.ConversationSubscription;
using Filter = Akka.Sync.Protocol.ConversationQueries.EventFilter;

namespace Akka.Sync.Actors.Tests;

public sealed class ConversationActorTests(ITestOutputHelper output) : SqliteActorTest(output)
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(10);

    private ConversationId Create(IActorRef region)
    {
        var id = ConversationId.New();
        region.Tell(new Create(id, Dialect.V1, "t", null, ConversationState.HashKey("k")));
        Assert.Equal(ResultCode.Created, ExpectMsg<CreateResult>(Wait).Code);
        return id;
    }

    private AppendResult Append(IActorRef region, ConversationId id, params IncomingEvent[] events)
    {
        region.Tell(new AppendEvents(id, events));
        return ExpectMsg<AppendResult>(Wait);
    }

    private long Count(IActorRef region, ConversationId id)
    {
        region.Tell(new CountEvents(id, Filter.None));
        return ExpectMsg<EventCount>(Wait).Count;
    }

    [Fact]
    public async Task The_reply_comes_after_the_write_is_durable_and_before_subscribers_get_the_event()
    {
        var region = Region(Settings());
        var id = Create(region);
        region.Tell(new Subscribe(id, TestActor, ReplayFrom.LiveOnly, Dialect.V1));
        ExpectMsg<Subscribed>(Wait);

        region.Tell(new AppendEvents(id, [Event(body: """{"n":1}""")]));

        var reply = ExpectMsg<AppendResult>(Wait);
        // What was acknowledged is already in the journal, read back through a separate query.
        var stored = await JournalReader.Read(Sys, ConversationActor.PersistenceIdOf(id), 0, long.MaxValue);
        Assert.Contains(stored, e => e.Id == reply.Items[0].Id && e.Seq == 1);
        var published = ExpectMsg<EventEnvelope>(Wait);
        Assert.Equal(reply.Items[0].Id, published.Id);
        Assert.Equal(1, published.Seq);
    }

    [Fact]
    public void Seqs_stay_contiguous_across_many_concurrent_batches()
    {
        var region = Region(Settings());
        var id = Create(region);
        var probes = Enumerable.Range(0, 6).Select(_ => CreateTestProbe()).ToArray();

        for (var round = 0; round < 10; round++)
            foreach (var p in probes)
                region.Tell(new AppendEvents(id, Enumerable.Range(0, 5).Select(_ => Event()).ToArray()), p.Ref);

        var seqs = probes.SelectMany(p => Enumerable.Range(0, 10).SelectMany(_ => p.ExpectMsg<AppendResult>(Wait).Items.Select(i => i.Seq))).ToList();
        Assert.Equal(Enumerable.Range(1, 300).Select(i => (long)i), seqs.Order());
        Assert.Equal(300, Count(region, id));
    }

    [Fact]
    public void A_repeated_event_id_is_acknowledged_with_its_first_seq_even_while_the_first_write_is_in_flight()
    {
        var region = Region(Settings());
        var id = Create(region);
        var eventId = Guid.NewGuid().ToString("D");

        // Back to back: the second arrives while the first may still be writing.
        region.Tell(new AppendEvents(id, [Event(id: eventId)]));
        region.Tell(new AppendEvents(id, [Event(id: eventId), Event()]));
        var first = ExpectMsg<AppendResult>(Wait);
        var second = ExpectMsg<AppendResult>(Wait);

        Assert.Equal(1, first.Items[0].Seq);
        Assert.Equal(1, second.Items[0].Seq);
        Assert.Equal(eventId, second.Items[0].Id);
        Assert.Equal(2, second.Items[1].Seq);
        Assert.Equal(2, Count(region, id));
        Assert.Equal(1, Append(region, id, Event(id: eventId)).Items[0].Seq);
    }

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
        region.Tell(new Subscribe(id, TestActor, ReplayFrom.All, Dialect.V1));
        Assert.Equal(RefusalReason.NotFound, ExpectMsg<Refused>(Wait).Reason);
    }

    private ExecutionStatus Status(IActorRef region, ConversationId id)
    {
        region.Tell(new GetInfo(id));
        return ExpectMsg<InfoResult>(Wait).Info!.Status;
    }

    private string[] Kinds(IActorRef region, ConversationId id)
    {
        region.Tell(new SearchEvents(id, Filter.None, null, 100, false));
        return ExpectMsg<EventPage>(Wait).Items.Select(b => System.Text.Json.JsonDocument.Parse(b).RootElement.GetProperty("kind").GetString()!).ToArray();
    }

    [Fact]
    public void Run_from_running_is_a_conflict_and_changes_nothing()
    {
        var region = Region(Settings());
        var id = Create(region);
        region.Tell(new Run(id));
        ExpectMsg<CommandResult>(r => r.Code == ResultCode.Ok, Wait);

        region.Tell(new Run(id));

        Assert.Equal(ResultCode.Conflict, ExpectMsg<CommandResult>(Wait).Code);
        Assert.Equal(1, Count(region, id));
        Assert.Equal(ExecutionStatus.Running, Status(region, id));
    }

    [Fact]
    public void Pausing_twice_appends_one_PauseEvent()
    {
        var region = Region(Settings());
        var id = Create(region);
        region.Tell(new Pause(id));
        region.Tell(new Pause(id));
        ExpectMsg<CommandResult>(Wait);
        ExpectMsg<CommandResult>(Wait);

        Assert.Equal(["ConversationStateUpdateEvent", "PauseEvent"], Kinds(region, id));
        Assert.Equal(ExecutionStatus.Paused, Status(region, id));
    }

    [Fact]
    public void A_message_on_a_finished_conversation_resets_it_to_idle()
    {
        var region = Region(Settings());
        var id = Create(region);
        Append(region, id, Event("ConversationStateUpdateEvent", "environment", body: """{"key":"execution_status","value":"finished"}"""));

        region.Tell(new SendMessage(id, new UserMessage("""[{"cache_prompt":false,"type":"text","text":"again"}]"""u8.ToArray(), Run: false)));
        ExpectMsg<CommandResult>(Wait);

        Assert.Equal(ExecutionStatus.Idle, Status(region, id));
        Assert.Equal(["ConversationStateUpdateEvent", "MessageEvent", "ConversationStateUpdateEvent"], Kinds(region, id));
    }

    [Fact]
    public void Confirmation_when_not_waiting_is_a_conflict()
    {
        var region = Region(Settings());
        var id = Create(region);
        region.Tell(new RespondToConfirmation(id, false, "no"));
        Assert.Equal(ResultCode.Conflict, ExpectMsg<CommandResult>(Wait).Code);
        Assert.Equal(0, Count(region, id));
    }

    [Fact]
    public void Rejecting_answers_each_pending_action_with_a_UserRejectObservation_then_goes_idle()
    {
        var region = Region(Settings());
        var id = Create(region);
        var items = Append(region, id,
            Event("ActionEvent", body: """{"tool_name":"bash","tool_call_id":"c1"}"""),
            Event("ActionEvent", body: """{"tool_name":"bash","tool_call_id":"c2"}"""),
            Event("ObservationEvent", "environment", body: """{"tool_call_id":"c1"}"""),
            Event("ConversationStateUpdateEvent", "environment", body: """{"key":"execution_status","value":"waiting_for_confirmation"}""")).Items;

        region.Tell(new RespondToConfirmation(id, false, "too risky"));
        ExpectMsg<CommandResult>(r => r.Code == ResultCode.Ok, Wait);

        region.Tell(new SearchEvents(id, new Filter("UserRejectObservation", null, null, null), null, 100, false));
        var rejections = ExpectMsg<EventPage>(Wait).Items.Select(b => System.Text.Json.JsonDocument.Parse(b).RootElement).ToArray();
        var rejection = Assert.Single(rejections); // c1 was already answered
        Assert.Equal(items[1].Id, rejection.GetProperty("action_id").GetString());
        Assert.Equal("too risky", rejection.GetProperty("rejection_reason").GetString());
        Assert.Equal(ExecutionStatus.Idle, Status(region, id));
    }

    [Fact]
    public void A_restarted_entity_recovers_every_acknowledged_event_and_continues_the_seq()
    {
        var region = Region(Settings(tail: 5));
        var id = Create(region);
        var first = Enumerable.Range(0, 4).SelectMany(_ => Append(region, id, Enumerable.Range(0, 5).Select(_ => Event()).ToArray()).Items).ToArray();
        region.Tell(new Pause(id));
        ExpectMsg<CommandResult>(Wait);

        region.Tell(new EntityParent.StopEntity(id));

        Assert.Equal(22, Count(region, id));
        Assert.Equal(ExecutionStatus.Paused, Status(region, id));
        Assert.Equal(23, Append(region, id, Event()).Items[0].Seq);
        Assert.Equal(first[3].Seq, Append(region, id, Event(id: first[3].Id)).Items[0].Seq);
    }

    [Fact]
    public void A_snapshot_is_taken_and_recovery_from_it_keeps_the_whole_log_reachable()
    {
        var region = Region(Settings(tail: 3, snapshotEvery: 10));
        var id = Create(region);
        var items = Enumerable.Range(0, 25).Select(_ => Append(region, id, Event()).Items[0]).ToArray();

        AwaitAssert(() => Assert.True(SnapshotRows(id) > 0), Wait);
        region.Tell(new EntityParent.StopEntity(id));

        region.Tell(new GetEvent(id, items[0].Id));
        var early = ExpectMsg<EventResult>(Wait);
        Assert.Equal(ResultCode.Ok, early.Code);
        Assert.Contains(items[0].Id, Encoding.UTF8.GetString(early.Json!));
        region.Tell(new Subscribe(id, TestActor, ReplayFrom.EventId(items[1].Id), Dialect.V1));
        var subscribed = ExpectMsg<Subscribed>(Wait);
        Assert.Equal(2, subscribed.ReplayAfterSeq);
        Assert.Equal(25, subscribed.LastSeq);
        region.Tell(new ReadRange(id, 3, 25, 100));
        Assert.Equal(Enumerable.Range(3, 23).Select(i => (long)i), ExpectMsg<EventRange>(Wait).Events.Select(e => e.Seq));
    }

    private long SnapshotRows(ConversationId id)
    {
        using var connection = new SqliteConnection($"Data Source={DatabaseFile}");
        connection.Open();
        using var command = connection.CreateCommand();
        command.CommandText = "SELECT COUNT(*) FROM snapshot WHERE persistence_id = $p";
        command.Parameters.AddWithValue("$p", ConversationActor.PersistenceIdOf(id));
        return (long)command.ExecuteScalar()!;
    }

    [Fact]
    public void Read_range_older_than_the_tail_comes_from_the_journal_in_order()
    {
        var region = Region(Settings(tail: 4));
        var id = Create(region);
        region.Tell(new SetTitle(id, "renamed")); // a non-log entry between log entries in the journal
        ExpectMsg<CommandResult>(Wait);
        for (var i = 0; i < 20; i++) Append(region, id, Event());

        region.Tell(new ReadRange(id, 2, 12, 100));

        Assert.Equal(Enumerable.Range(2, 11).Select(i => (long)i), ExpectMsg<EventRange>(Wait).Events.Select(e => e.Seq));
    }

    [Fact]
    public void Subscribing_after_an_unknown_event_id_or_in_the_wrong_dialect_is_refused()
    {
        var region = Region(Settings());
        var id = Create(region);
        Append(region, id, Event());

        region.Tell(new Subscribe(id, TestActor, ReplayFrom.EventId(Guid.NewGuid().ToString("D")), Dialect.V1));
        Assert.Equal(RefusalReason.UnknownAfterEventId, ExpectMsg<Refused>(Wait).Reason);
        region.Tell(new Subscribe(id, TestActor, ReplayFrom.All, Dialect.V0));
        Assert.Equal(RefusalReason.WrongProtocol, ExpectMsg<Refused>(Wait).Reason);
    }

    [Fact]
    public void An_idle_conversation_without_subscribers_passivates_and_comes_back_intact()
    {
        var region = Region(Settings(idle: TimeSpan.FromMilliseconds(300)));
        region.Tell("watch-passivation");
        var id = Create(region);
        Append(region, id, Event());

        ExpectMsg<EntityParent.Passivated>(p => p.Id == id, Wait);

        Assert.Equal(1, Count(region, id));
    }

    [Fact]
    public void A_conversation_with_a_subscriber_does_not_passivate()
    {
        var region = Region(Settings(idle: TimeSpan.FromMilliseconds(200)));
        var watcher = CreateTestProbe();
        region.Tell("watch-passivation", watcher.Ref);
        var id = Create(region);
        region.Tell(new Subscribe(id, TestActor, ReplayFrom.LiveOnly, Dialect.V1));
        ExpectMsg<Subscribed>(Wait);

        watcher.ExpectNoMsg(TimeSpan.FromSeconds(1));
    }

    [Fact]
    public void Deleting_ends_subscriptions_and_refuses_further_commands()
    {
        var directory = CreateTestProbe();
        var region = Region(Settings(), directory.Ref);
        var id = Create(region);
        region.Tell(new Subscribe(id, TestActor, ReplayFrom.LiveOnly, Dialect.V1));
        ExpectMsg<Subscribed>(Wait);

        region.Tell(new Delete(id));

        ExpectMsg<CommandResult>(r => r.Code == ResultCode.Ok, Wait);
        Assert.Equal(RefusalReason.Deleted, ExpectMsg<Ended>(Wait).Reason);
        directory.FishForMessage(m => m is DirectoryCommands.Upsert { Deleted: true }, Wait);
        Assert.Equal(ResultCode.NotFound, Append(region, id, Event()).Code);
        region.Tell(new Create(id, Dialect.V1, null, null, ConversationState.HashKey("k")));
        Assert.Equal(ResultCode.Conflict, ExpectMsg<CreateResult>(Wait).Code);
    }

    [Fact]
    public void Keys_are_checked_by_hash_and_a_repeated_create_issues_another_one()
    {
        var region = Region(Settings());
        var id = Create(region); // key "k"
        region.Tell(new Create(id, Dialect.V1, null, null, ConversationState.HashKey("k2")));
        Assert.Equal(ResultCode.Ok, ExpectMsg<CreateResult>(Wait).Code);

        foreach (var (key, allowed) in new[] { ("k", true), ("k2", true), ("K", false), ("k ", false), ("other", false) })
        {
            region.Tell(new Authorize(id, ConversationState.HashKey(key)));
            Assert.Equal(allowed, ExpectMsg<AuthorizeResult>(Wait).Allowed);
        }
        region.Tell(new Authorize(ConversationId.New(), ConversationState.HashKey("k")));
        Assert.False(ExpectMsg<AuthorizeResult>(Wait).Allowed);
    }
}
