using System.Text;
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

/// <summary>A conversation that stops (passivation, rebalance, node loss) comes back from the journal and its snapshot intact.</summary>
public sealed class ConversationActorRecoveryTests(ITestOutputHelper output) : SqliteActorTest(output)
{
    private long LatestSnapshotSeqNr(ConversationId id) =>
        Scalar("SELECT COALESCE(MAX(sequence_number), 0) FROM snapshot WHERE persistence_id = $p", ConversationActor.PersistenceIdOf(id));

    private ConversationInfo Info(IActorRef region, ConversationId id)
    {
        region.Tell(new GetInfo(id));
        var result = ExpectMsg<InfoResult>(Wait);
        Assert.Equal(ResultCode.Ok, result.Code);
        return result.Info!;
    }

    /// <summary>
    /// The stop message itself, sent straight to the entity (as passivation and a shard's hand-off send it). A real
    /// hand-off through a shard region: <see cref="ConversationHandOffTests"/>.
    /// </summary>
    [Fact]
    public void The_graceful_stop_message_answers_the_writes_in_flight_before_the_entity_stops()
    {
        var region = Region(Settings());
        var id = CreateConversation(region);
        region.Tell(new EntityParent.GetEntity(id));
        var entity = ExpectMsg<EntityParent.Entity>(Wait).Ref!;
        var watcher = CreateTestProbe();
        watcher.Watch(entity);

        // The shard's hand-off stop arrives while a batch is being written (a node leaving mid-burst).
        entity.Tell(new AppendEvents(id, Events(200)));
        entity.Tell(ConversationActor.StopGracefully.Instance);

        var result = ExpectMsg<AppendResult>(Wait);
        Assert.Equal(ResultCode.Ok, result.Code);
        Assert.Equal(200, result.Items.Length);
        watcher.ExpectTerminated(entity, Wait);
        Assert.Equal(200, Count(region, id)); // the next incarnation has every acknowledged event
    }

    [Fact]
    public void A_restarted_entity_recovers_every_acknowledged_event_and_continues_the_seq()
    {
        var region = Region(Settings(tail: 5));
        var id = CreateConversation(region);
        var acknowledged = Enumerable.Range(0, 4).SelectMany(_ => AppendOk(region, id, 5)).ToArray();
        region.Tell(new SetTitle(id, "renamed"));
        ExpectMsg<CommandResult>(Wait);
        region.Tell(new Pause(id));
        ExpectMsg<CommandResult>(Wait); // + status update + PauseEvent = 22 events

        RestartEntity(region, id);

        Assert.Equal(22, Count(region, id));
        var info = Info(region, id);
        Assert.Equal((ExecutionStatus.Paused, "renamed", 22L), (info.Status, info.Title, info.EventCount));
        region.Tell(new Subscribe(id, TestActor, ReplayFrom.All, Dialect.V1));
        var subscribed = ExpectMsg<Subscribed>(Wait);
        Assert.Equal((22L, 0L), (subscribed.LastSeq, subscribed.ReplayAfterSeq));
        region.Tell(new ReadRange(id, 1, 22, 100));
        var replay = ExpectMsg<EventRange>(Wait).Events;
        Assert.Equal(Seqs(1, 22), replay.Select(e => e.Seq));
        Assert.Equal(acknowledged.Select(a => a.Id), replay.Take(20).Select(e => e.Id));
        // The next append continues at LastSeq + 1, and reaches the subscriber of the new incarnation.
        var next = Assert.Single(AppendOk(region, id, 1));
        Assert.Equal(23, next.Seq);
        Assert.Equal(23, ExpectMsg<EventEnvelope>(Wait).Seq);
        // Ids stored before the restart are still known: a retry is acknowledged, not stored.
        Assert.Equal(acknowledged[3], Assert.Single(Append(region, id, Event(id: acknowledged[3].Id)).Items));
        Assert.Equal(23, Count(region, id));
    }

    [Fact]
    public void A_snapshot_is_taken_and_recovery_from_it_keeps_the_whole_log_reachable()
    {
        var region = Region(Settings(tail: 3, snapshotEvery: 10));
        var id = CreateConversation(region);
        var items = Enumerable.Range(0, 25).Select(_ => AppendOk(region, id, 1)[0]).ToArray();
        // Journal entries 1 (Created) … 26: snapshots at 10 and 20, and only the newest is kept.
        AwaitAssert(() => Assert.Equal((1L, 20L), (SnapshotRows(id), LatestSnapshotSeqNr(id))), Wait);

        RestartEntity(region, id);

        Assert.Equal(25, Count(region, id));
        // An early event, long out of the tail of 3: its body comes from the journal.
        region.Tell(new GetEvent(id, items[0].Id));
        var early = ExpectMsg<EventResult>(Wait);
        Assert.Equal(ResultCode.Ok, early.Code);
        Assert.Contains(items[0].Id, Encoding.UTF8.GetString(early.Json!));
        region.Tell(new Subscribe(id, TestActor, ReplayFrom.EventId(items[1].Id), Dialect.V1));
        var subscribed = ExpectMsg<Subscribed>(Wait);
        Assert.Equal((25L, 2L), (subscribed.LastSeq, subscribed.ReplayAfterSeq));
        region.Tell(new ReadRange(id, 3, 25, 100));
        var range = ExpectMsg<EventRange>(Wait).Events;
        Assert.Equal(Seqs(3, 25), range.Select(e => e.Seq));
        Assert.Equal(items.Skip(2).Select(i => i.Id), range.Select(e => e.Id));
        Assert.Equal(26, AppendOk(region, id, 1)[0].Seq);
        Assert.Equal(27, JournalRows(id)); // snapshots never trim the journal: Created + 26 events
    }

    [Fact]
    public void State_that_only_a_snapshot_holds_survives_a_restart()
    {
        // Created + a batch of 4 events (one journal row): 4 log entries = one snapshot covering everything, so
        // recovery replays no event.
        var region = Region(Settings(tail: 2, snapshotEvery: 4));
        var id = CreateConversation(region);
        var items = Append(region, id,
            Event("ActionEvent", body: """{"tool_name":"bash","tool_call_id":"c1"}"""),
            Event("ActionEvent", body: """{"tool_name":"bash","tool_call_id":"c2"}"""),
            Event("ObservationEvent", "environment", body: """{"tool_call_id":"c2"}"""),
            Event("ConversationStateUpdateEvent", "environment", body: """{"key":"execution_status","value":"waiting_for_confirmation"}""")).Items;
        AwaitAssert(() => Assert.Equal(1, SnapshotRows(id)), Wait);

        RestartEntity(region, id);

        Assert.Equal(ExecutionStatus.WaitingForConfirmation, Info(region, id).Status);
        region.Tell(new Authorize(id, ConversationState.HashKey("k")));
        Assert.True(ExpectMsg<AuthorizeResult>(Wait).Allowed);
        region.Tell(new RespondToConfirmation(id, false, "no"));
        Assert.Equal(ResultCode.Ok, ExpectMsg<CommandResult>(Wait).Code);
        region.Tell(new SearchEvents(id, new Filter("UserRejectObservation", null, null, null), null, 10, false));
        var rejection = Assert.Single(ExpectMsg<EventPage>(Wait).Items);
        Assert.Contains(items[0].Id, Encoding.UTF8.GetString(rejection)); // the pending action c1, from the snapshot
    }

    [Fact]
    public void Read_range_older_than_the_tail_comes_from_the_journal_in_order()
    {
        var region = Region(Settings(tail: 4, chunk: 5));
        var id = CreateConversation(region);
        region.Tell(new SetTitle(id, "renamed")); // a journal entry that is not a log entry, between log entries
        ExpectMsg<CommandResult>(Wait);
        var items = Enumerable.Range(0, 20).Select(_ => AppendOk(region, id, 1)[0]).ToArray();

        region.Tell(new ReadRange(id, 2, 12, 100));
        var chunk = ExpectMsg<EventRange>(Wait).Events;

        // Capped at the replay chunk of 5, starting exactly at the asked seq.
        Assert.Equal(Seqs(2, 6), chunk.Select(e => e.Seq));
        Assert.Equal(items.Skip(1).Take(5).Select(i => i.Id), chunk.Select(e => e.Id));
        // A range reaching into the tail and past the last seq stops at the last seq.
        region.Tell(new ReadRange(id, 15, 99, 100));
        Assert.Equal(Seqs(15, 19), ExpectMsg<EventRange>(Wait).Events.Select(e => e.Seq));
        region.Tell(new ReadRange(id, 18, 99, 100));
        Assert.Equal(Seqs(18, 20), ExpectMsg<EventRange>(Wait).Events.Select(e => e.Seq));
    }

    [Fact]
    public void An_idle_conversation_without_subscribers_passivates_and_comes_back_intact()
    {
        var region = Region(Settings(idle: TimeSpan.FromMilliseconds(300)));
        region.Tell("watch-passivation");
        var id = CreateConversation(region);
        var item = AppendOk(region, id, 1)[0];

        ExpectMsg<EntityParent.Passivated>(p => p.Id == id, Wait);

        Assert.Equal(1, Count(region, id));
        Assert.Equal(item, Assert.Single(Append(region, id, Event(id: item.Id)).Items));
    }

    [Fact]
    public void A_conversation_with_a_subscriber_does_not_passivate_until_the_subscriber_leaves()
    {
        var region = Region(Settings(idle: TimeSpan.FromMilliseconds(200)));
        var watcher = CreateTestProbe();
        region.Tell("watch-passivation", watcher.Ref);
        var id = CreateConversation(region);
        var subscriber = CreateTestProbe();
        region.Tell(new Subscribe(id, subscriber.Ref, ReplayFrom.LiveOnly, Dialect.V1));
        ExpectMsg<Subscribed>(Wait);

        watcher.ExpectNoMsg(TimeSpan.FromSeconds(1)); // five idle timeouts long

        Sys.Stop(subscriber.Ref);
        watcher.ExpectMsg<EntityParent.Passivated>(p => p.Id == id, Wait);
    }
}
