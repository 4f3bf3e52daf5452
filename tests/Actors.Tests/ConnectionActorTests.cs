using Akka.Actor;
using Akka.Sync.Actors.Connections;
using Akka.Sync.Actors.Conversations;
using Akka.Sync.Actors.Tests.Support;
using Akka.Sync.Protocol;
using Xunit;
using Xunit.Abstractions;
using static Akka.Sync.Protocol.ConversationCommands;
using static Akka.Sync.Protocol.ConversationReplies;
using static Akka.Sync.Protocol.ConversationSubscription;
using Frame = Akka.Sync.Actors.Tests.Support.RecordingSink.Frame;

namespace Akka.Sync.Actors.Tests;

/// <summary>One socket's connection actor against real conversation entities on a SQLite journal.</summary>
public sealed class ConnectionActorTests(ITestOutputHelper output) : SqliteActorTest(output)
{
    private static readonly ConnectionSettings Fast = new(ReplayChunk: 7, RequestTimeout: TimeSpan.FromSeconds(1));

    private IActorRef Connect(IActorRef region, ConversationId id, ReplayFrom from, RecordingSink sink) =>
        Sys.ActorOf(ConnectionActor.Props(region, id, Dialect.V1, from, sink, Fast));

    /// <summary>
    /// full_state first and once; one replay-completed mark, with only replayed events before it. (After it, events a
    /// resubscription reads back from the log are flagged as replay too; the sinks send those as live.)
    /// </summary>
    private static void AssertWellFormed(Frame[] frames)
    {
        Assert.IsType<RecordingSink.FullStateFrame>(frames[0]);
        Assert.Equal(1, frames.Count(f => f is RecordingSink.FullStateFrame));
        Assert.Equal(1, frames.Count(f => f is RecordingSink.ReplayCompletedFrame));
        Assert.All(BeforeReplayCompleted(frames), f => Assert.True(f.Replay, $"seq {f.Event.Seq} sent live before the replay ended"));
    }

    private static IEnumerable<RecordingSink.EventFrame> BeforeReplayCompleted(Frame[] frames) =>
        frames.TakeWhile(f => f is not RecordingSink.ReplayCompletedFrame).OfType<RecordingSink.EventFrame>();

    private static IEnumerable<RecordingSink.EventFrame> AfterReplayCompleted(Frame[] frames) =>
        frames.SkipWhile(f => f is not RecordingSink.ReplayCompletedFrame).OfType<RecordingSink.EventFrame>();

    [Fact]
    public void Replays_history_then_live_events_exactly_once_with_appends_racing_the_subscription()
    {
        var region = Region(Settings(tail: 10, chunk: 7));
        var id = CreateConversation(region);
        AppendOk(region, id, 40);
        var writer = CreateTestProbe();
        var sink = new RecordingSink();

        // Appends keep arriving while the connection subscribes and replays (from the journal: the tail holds 10).
        for (var i = 0; i < 30; i++) region.Tell(new AppendEvents(id, Events(2)), writer.Ref);
        Connect(region, id, ReplayFrom.All, sink);
        for (var i = 0; i < 30; i++) region.Tell(new AppendEvents(id, Events(1)), writer.Ref);
        for (var i = 0; i < 60; i++) Assert.Equal(ResultCode.Ok, writer.ExpectMsg<AppendResult>(Wait).Code);
        AppendOk(region, id, 5);

        AwaitAssert(() => Assert.Equal(135, sink.Events.Length), Wait);
        Assert.Equal(Seqs(1, 135), sink.Seqs);
        AssertWellFormed(sink.Frames);
        // The hand-over: the replay reached at least the 40 stored before connecting, and nothing after it was replayed.
        Assert.True(BeforeReplayCompleted(sink.Frames).Count() >= 40);
        Assert.All(AfterReplayCompleted(sink.Frames), f => Assert.False(f.Replay, $"seq {f.Event.Seq} replayed after the replay ended"));
        Assert.Null(sink.Closed);
    }

    [Fact]
    public void Live_only_starts_after_the_last_stored_event()
    {
        var region = Region(Settings());
        var id = CreateConversation(region);
        AppendOk(region, id, 3);
        var sink = new RecordingSink();
        Connect(region, id, ReplayFrom.LiveOnly, sink);
        AwaitCondition(() => sink.ReplaysCompleted == 1, Wait);

        AppendOk(region, id, 2);

        AwaitAssert(() => Assert.Equal([4L, 5L], sink.Seqs), Wait);
        AssertWellFormed(sink.Frames);
    }

    [Fact]
    public void After_event_id_replays_exactly_the_events_after_it()
    {
        var region = Region(Settings(tail: 5));
        var id = CreateConversation(region);
        var items = AppendOk(region, id, 20);
        var sink = new RecordingSink();

        Connect(region, id, ReplayFrom.EventId(items[8].Id), sink);
        AwaitCondition(() => sink.ReplaysCompleted == 1, Wait);
        AppendOk(region, id, 1);

        AwaitAssert(() => Assert.Equal(Seqs(10, 21), sink.Seqs), Wait);
        Assert.Equal(items[9].Id, sink.Events[0].Id);
        AssertWellFormed(sink.Frames);
    }

    [Fact]
    public void After_the_last_event_id_replays_nothing_and_goes_live()
    {
        var region = Region(Settings());
        var id = CreateConversation(region);
        var items = AppendOk(region, id, 3);
        var sink = new RecordingSink();

        Connect(region, id, ReplayFrom.EventId(items[2].Id), sink);
        AwaitCondition(() => sink.ReplaysCompleted == 1, Wait);
        AppendOk(region, id, 1);

        AwaitAssert(() => Assert.Equal([4L], sink.Seqs), Wait);
    }

    [Fact]
    public void Resubscribes_from_the_last_delivered_seq_after_the_entity_restarts()
    {
        var region = Region(Settings(tail: 3));
        var id = CreateConversation(region);
        AppendOk(region, id, 10);
        var sink = new RecordingSink();
        Connect(region, id, ReplayFrom.All, sink);
        AwaitAssert(() => Assert.Equal(10, sink.Events.Length), Wait);

        for (var round = 0; round < 3; round++)
        {
            RestartEntity(region, id);
            AppendOk(region, id, 5);
        }

        AwaitAssert(() => Assert.Equal(Seqs(1, 25), sink.Seqs), Wait);
        AssertWellFormed(sink.Frames);
    }

    [Fact]
    public void Every_event_arrives_once_in_order_when_the_entity_is_stopped_while_appends_stream_in()
    {
        var region = Region(Settings(tail: 4, chunk: 7));
        var id = CreateConversation(region);
        var acknowledged = new List<AppendedItem>(AppendOk(region, id, 10));
        var sink = new RecordingSink();
        Connect(region, id, ReplayFrom.All, sink);
        var writer = CreateTestProbe();
        var answers = new List<AppendResult>();

        // Stops land among appends, while the connection may be replaying, live, or resubscribing. Appends still in
        // a stopped incarnation's mailbox are lost, as on a crash, and never answered; the entity's count says what exists.
        for (var round = 0; round < 4; round++)
        {
            for (var i = 0; i < 5; i++) region.Tell(new AppendEvents(id, Events(2)), writer.Ref);
            // Once the first is answered, the stop lands among the rest: answered, being written, or still in the mailbox.
            answers.Add(writer.ExpectMsg<AppendResult>(Wait));
            for (var i = 0; i < 5; i++) region.Tell(new AppendEvents(id, Events(2)), writer.Ref);
            region.Tell(new EntityParent.StopEntity(id));
            acknowledged.AddRange(AppendOk(region, id, 1)); // answered by the next incarnation
            // The stopped incarnation answered only before it stopped, and the next one started after that: every
            // answer it gave is already in the writer's queue (a probe's test actor runs on the sender's thread).
            while (writer.HasMessages) answers.Add(writer.ExpectMsg<AppendResult>(Wait));
        }
        var total = Count(region, id);
        Assert.All(answers, a => Assert.Equal(ResultCode.Ok, a.Code));
        acknowledged.AddRange(answers.SelectMany(a => a.Items));

        Assert.True(total >= 14, $"only {total} events stored");
        AwaitAssert(() => Assert.Equal(Seqs(1, total), sink.Seqs), Wait);
        AssertWellFormed(sink.Frames);
        Assert.Null(sink.Closed);
        // Every acknowledged event was delivered, once (each seq once), at the seq it was acknowledged with: an
        // acknowledged write the log lost would leave its id undelivered, or its seq holding another event.
        var reused = acknowledged.GroupBy(a => a.Seq).Where(g => g.Count() > 1)
            .Select(g => $"seq {g.Key}: {string.Join(", ", g.Select(a => a.Id))}").ToArray();
        Assert.True(reused.Length == 0, $"one seq acknowledged for several events: {string.Join("; ", reused)}");
        var delivered = sink.Events;
        Assert.All(acknowledged, a =>
        {
            Assert.InRange(a.Seq, 1, total);
            Assert.True(delivered[a.Seq - 1].Id == a.Id,
                $"acknowledged {a.Id} at seq {a.Seq}, but seq {a.Seq} delivered {delivered[a.Seq - 1].Id}");
        });
    }

    [Fact]
    public void A_full_queue_on_live_events_closes_the_socket_with_1013_and_stops_the_connection()
    {
        var region = Region(Settings());
        var id = CreateConversation(region);
        var sink = new RecordingSink(capacity: 3);
        var connection = Connect(region, id, ReplayFrom.LiveOnly, sink);
        Watch(connection);
        AwaitCondition(() => sink.ReplaysCompleted == 1, Wait);

        AppendOk(region, id, 5);

        ExpectTerminated(connection, Wait);
        Assert.Equal((1013, "slow consumer"), sink.Closed);
        Assert.Equal(1, sink.Closes);
        Assert.Equal([1L, 2L, 3L], sink.Seqs); // nothing after the refused event, nothing dropped silently before it
    }

    [Fact]
    public void A_full_queue_during_replay_pauses_the_replay_instead_of_closing()
    {
        var region = Region(Settings(tail: 6));
        var id = CreateConversation(region);
        AppendOk(region, id, 20);
        var sink = new RecordingSink(capacity: 5);
        var connection = Connect(region, id, ReplayFrom.All, sink);
        Watch(connection);

        AwaitCondition(() => sink.Refused > 0, Wait);
        Assert.Equal(Seqs(1, 5), sink.Seqs);
        Assert.Null(sink.Closed);

        sink.Drain(); // the socket sent what was queued: room for 5 more
        AwaitAssert(() => Assert.Equal(Seqs(1, 10), sink.Seqs), Wait);
        sink.Capacity = int.MaxValue;
        AppendOk(region, id, 1);

        AwaitAssert(() => Assert.Equal(Seqs(1, 21), sink.Seqs), Wait);
        AssertWellFormed(sink.Frames);
        Assert.Null(sink.Closed);
    }

    [Fact]
    public void An_unknown_conversation_closes_with_4004()
    {
        var region = Region(Settings());
        var sink = new RecordingSink();
        var connection = Connect(region, ConversationId.New(), ReplayFrom.All, sink);
        Watch(connection);

        ExpectTerminated(connection, Wait);
        Assert.Equal((4004, "Conversation not found"), sink.Closed);
        Assert.Empty(sink.Frames);
    }

    [Fact]
    public void An_unknown_after_event_id_closes_with_4009()
    {
        var region = Region(Settings());
        var id = CreateConversation(region);
        AppendOk(region, id, 2);
        var sink = new RecordingSink();
        var connection = Connect(region, id, ReplayFrom.EventId(Guid.NewGuid().ToString("D")), sink);
        Watch(connection);

        ExpectTerminated(connection, Wait);
        Assert.Equal((4009, "unknown after_event_id"), sink.Closed);
        Assert.Empty(sink.Frames);
    }

    [Fact]
    public void A_socket_of_the_wrong_dialect_closes_with_4004_naming_the_conversations_protocol()
    {
        var region = Region(Settings());
        var id = CreateConversation(region);
        var sink = new RecordingSink();
        var connection = Sys.ActorOf(ConnectionActor.Props(region, id, Dialect.V0, ReplayFrom.All, sink, Fast));
        Watch(connection);

        ExpectTerminated(connection, Wait);
        Assert.Equal((4004, "wrong protocol: conversation is v1"), sink.Closed);
    }

    [Fact]
    public void A_deleted_conversation_closes_its_sockets_with_4004()
    {
        var region = Region(Settings());
        var id = CreateConversation(region);
        var sink = new RecordingSink();
        var connection = Connect(region, id, ReplayFrom.LiveOnly, sink);
        Watch(connection);
        AwaitCondition(() => sink.ReplaysCompleted == 1, Wait);

        region.Tell(new Delete(id));
        ExpectMsg<CommandResult>(Wait);

        ExpectTerminated(connection, Wait);
        Assert.Equal((4004, "Conversation not found"), sink.Closed);
    }

    [Fact]
    public void A_client_message_is_appended_and_broadcast_and_a_bad_frame_comes_back_as_an_error_frame()
    {
        var region = Region(Settings());
        var id = CreateConversation(region);
        var sink = new RecordingSink();
        var other = new RecordingSink();
        var connection = Connect(region, id, ReplayFrom.LiveOnly, sink);
        Connect(region, id, ReplayFrom.LiveOnly, other);
        AwaitCondition(() => sink.ReplaysCompleted == 1 && other.ReplaysCompleted == 1, Wait);

        connection.Tell(new ConnectionActor.ClientMessage(new UserMessage("""[{"type":"text","text":"hi"}]"""u8.ToArray(), Run: true)));

        AwaitAssert(() => Assert.Equal(["MessageEvent", "ConversationStateUpdateEvent"], sink.Events.Select(e => e.Kind)), Wait);
        AwaitAssert(() => Assert.Equal(sink.Seqs, other.Seqs), Wait);
        connection.Tell(new ConnectionActor.ClientBadFrame("nope"));
        AwaitAssert(() => Assert.Equal([("bad_frame", "nope")], sink.Errors), Wait);
        Assert.Empty(other.Errors);
        Assert.Equal(2, Count(region, id)); // the error frame is not stored
    }

    // ---- the hand-over protocol against a scripted entity ----

    [Fact]
    public void A_gap_in_live_events_is_repaired_from_the_log_before_the_later_event_is_delivered()
    {
        var entity = CreateTestProbe();
        var id = ConversationId.New();
        var sink = new RecordingSink();
        var connection = Sys.ActorOf(ConnectionActor.Props(entity.Ref, id, Dialect.V1, ReplayFrom.LiveOnly, sink, Fast));
        entity.ExpectMsg<Subscribe>(s => s.Subscriber.Equals(connection), Wait);
        entity.Reply(new Subscribed(id, 2, 2, "{}"u8.ToArray()));
        AwaitCondition(() => sink.ReplaysCompleted == 1, Wait);

        connection.Tell(Envelope(id, 3), entity.Ref);
        connection.Tell(Envelope(id, 6), entity.Ref); // 4 and 5 never arrived live

        // The missing events and the one that revealed the gap are read from the log (nothing is held meanwhile).
        var read = entity.ExpectMsg<ReadRange>(Wait);
        Assert.Equal((4L, 6L), (read.FromSeq, read.ToSeq));
        entity.Reply(new EventRange(id, [Envelope(id, 4), Envelope(id, 5), Envelope(id, 6)]));
        connection.Tell(Envelope(id, 5), entity.Ref); // a late duplicate
        connection.Tell(Envelope(id, 7), entity.Ref);

        AwaitAssert(() => Assert.Equal(Seqs(3, 7), sink.Seqs), Wait);
        Assert.Null(sink.Closed);
    }

    [Fact]
    public void A_stale_replay_answer_is_read_again_from_where_the_socket_is()
    {
        var entity = CreateTestProbe();
        var id = ConversationId.New();
        var sink = new RecordingSink();
        var connection = Sys.ActorOf(ConnectionActor.Props(entity.Ref, id, Dialect.V1, ReplayFrom.All, sink, Fast));
        entity.ExpectMsg<Subscribe>(Wait);
        entity.Reply(new Subscribed(id, 4, 0, "{}"u8.ToArray()));

        Assert.Equal(1, entity.ExpectMsg<ReadRange>(Wait).FromSeq);
        entity.Reply(new EventRange(id, [Envelope(id, 1), Envelope(id, 3)])); // 2 missing: take 1, ask again from 2
        Assert.Equal(2, entity.ExpectMsg<ReadRange>(Wait).FromSeq);
        entity.Reply(new EventRange(id, [Envelope(id, 1), Envelope(id, 2), Envelope(id, 3), Envelope(id, 4)]));

        AwaitAssert(() => Assert.Equal(Seqs(1, 4), sink.Seqs), Wait);
        AwaitCondition(() => sink.ReplaysCompleted == 1, Wait);
        Assert.Null(sink.Closed);
        Watch(connection);
        Sys.Stop(connection);
        ExpectTerminated(connection, Wait);
        // Leaving unsubscribes from the entity it was subscribed to.
        entity.FishForMessage(m => m is Unsubscribe u && u.Subscriber.Equals(connection), Wait);
    }

    [Fact]
    public void A_refused_client_message_comes_back_as_a_rejected_error_frame_and_an_unanswered_one_as_unavailable()
    {
        var entity = CreateTestProbe();
        var id = ConversationId.New();
        var sink = new RecordingSink();
        var connection = Sys.ActorOf(ConnectionActor.Props(entity.Ref, id, Dialect.V1, ReplayFrom.LiveOnly, sink, Fast));
        entity.ExpectMsg<Subscribe>(Wait);
        entity.Reply(new Subscribed(id, 0, 0, "{}"u8.ToArray()));
        var message = new UserMessage("""[{"type":"text","text":"hi"}]"""u8.ToArray(), Run: true);

        connection.Tell(new ConnectionActor.ClientMessage(message));
        var sent = entity.ExpectMsg<SendMessage>(Wait);
        Assert.Equal((id, message), (sent.ConversationId, sent.Message));
        Assert.InRange(new DateTime(sent.DeadlineTicks, DateTimeKind.Utc), DateTime.UtcNow, DateTime.UtcNow + Fast.RequestTimeout);
        entity.Reply(new CommandResult(ResultCode.Conflict, "Conversation already running"));
        AwaitAssert(() => Assert.Equal([("rejected", "Conversation already running")], sink.Errors), Wait);

        connection.Tell(new ConnectionActor.ClientMessage(message));
        entity.ExpectMsg<SendMessage>(Wait); // and never answers
        AwaitAssert(() => Assert.Equal("unavailable", sink.Errors.Last().Code), Wait);

        Assert.Null(sink.Closed); // the socket stays open
        Assert.Empty(sink.Events);
    }

    [Fact]
    public void After_a_read_times_out_and_is_retried_only_one_range_read_stays_in_flight()
    {
        var entity = CreateTestProbe();
        var id = ConversationId.New();
        var sink = new RecordingSink();
        Sys.ActorOf(ConnectionActor.Props(entity.Ref, id, Dialect.V1, ReplayFrom.All, sink,
            new ConnectionSettings(ReplayChunk: 10, RequestTimeout: TimeSpan.FromSeconds(3))));
        entity.ExpectMsg<Subscribe>(Wait);
        entity.Reply(new Subscribed(id, 30, 0, "{}"u8.ToArray()));
        EventRange Range(long from) => new(id, Enumerable.Range((int)from, 10).Select(s => Envelope(id, s)).ToArray());

        Assert.Equal(1, entity.ExpectMsg<ReadRange>(Wait).FromSeq); // left unanswered until it times out
        Assert.Equal(1, entity.ExpectMsg<ReadRange>(Wait).FromSeq); // the retry
        entity.Reply(Range(1)); // the first read's late answer
        Assert.Equal(11, entity.ExpectMsg<ReadRange>(Wait).FromSeq);
        entity.Reply(Range(1)); // the retry's answer: nothing new, and no reason to read again
        entity.Reply(Range(11));
        Assert.Equal(21, entity.ExpectMsg<ReadRange>(Wait).FromSeq);
        entity.Reply(Range(21));

        AwaitCondition(() => sink.ReplaysCompleted == 1, Wait);
        Assert.Equal(Seqs(1, 30), sink.Seqs);
        Assert.False(entity.HasMessages, "a second read was still in flight");
        AssertWellFormed(sink.Frames);
    }

    private static EventEnvelope Envelope(ConversationId id, long seq) =>
        new(id, seq, Guid.NewGuid().ToString("D"), "MessageEvent", "agent", seq, "{}"u8.ToArray());
}
