using Akka.Actor;
using Akka.Sync.Actors.Connections;
using Akka.Sync.Actors.Tests.Support;
using Akka.Sync.Protocol;
using Xunit;
using Xunit.Abstractions;
using static Akka.Sync.Protocol.ConversationCommands;
using static Akka.Sync.Protocol.ConversationReplies;
using static Akka.Sync.Protocol.ConversationSubscription;

namespace Akka.Sync.Actors.Tests.Edges;

/// <summary>
/// Issue 13, the connection actor's edges against a scripted entity (a probe): it never restarts into a resend, it
/// notices a publish lost on the way, it holds nothing while a replay runs, it bounds a socket's commands in flight, and
/// it acknowledges an action only once it is durable.
/// </summary>
public sealed class ConnectionEdgeTests(ITestOutputHelper output) : Akka.TestKit.Xunit2.TestKit(output: output)
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(15);
    private static readonly ConnectionSettings Fast = new(ReplayChunk: 7, RequestTimeout: TimeSpan.FromSeconds(5));

    private static EventEnvelope Envelope(ConversationId id, long seq) =>
        new(id, seq, Guid.NewGuid().ToString("D"), "MessageEvent", "agent", seq, System.Text.Encoding.UTF8.GetBytes($"{{\"n\":{seq}}}"));

    private static EventsPublished Published(ConversationId id, long from, long to) =>
        new(id, Enumerable.Range((int)from, (int)(to - from + 1)).Select(s => Envelope(id, s)).ToArray());

    private static long[] Seqs(long from, long to) => Enumerable.Range((int)from, (int)(to - from + 1)).Select(i => (long)i).ToArray();

    /// <summary>A connection live on a probe entity whose last published seq is <paramref name="lastSeq"/>.</summary>
    private (IActorRef Connection, Akka.TestKit.TestProbe Entity, ConversationId Id) Live(IClientSink sink, ConnectionSettings settings, long lastSeq = 0)
    {
        var entity = CreateTestProbe();
        var id = ConversationId.New();
        var connection = Sys.ActorOf(ConnectionActor.Props(entity.Ref, id, Dialect.V1, ReplayFrom.LiveOnly, sink, settings));
        entity.ExpectMsg<Subscribe>(Wait);
        entity.Reply(new Subscribed(id, lastSeq, lastSeq, "{}"u8.ToArray()));
        return (connection, entity, id);
    }

    [Fact]
    public void A_connection_actor_that_fails_closes_its_socket_with_1011_and_never_resubscribes_or_resends()
    {
        var sink = new ThrowingSink(failAtSeq: 2);
        var (connection, entity, id) = Live(sink, Fast);
        AwaitCondition(() => sink.Inner.ReplaysCompleted == 1, Wait);
        Watch(connection);

        connection.Tell(Published(id, 1, 3), entity.Ref);

        ExpectTerminated(connection, Wait);
        Assert.Equal((1011, "internal error"), sink.Inner.Closed);
        Assert.Equal([1L], sink.Inner.Seqs);
        entity.ExpectMsg<Unsubscribe>(Wait);
        // A restart would subscribe again from the start and send full_state and the replay a second time.
        entity.ExpectNoMsg(TimeSpan.FromMilliseconds(500));
        Assert.Equal(1, sink.Inner.FullStates);
    }

    [Fact]
    public void A_publish_lost_on_the_way_is_noticed_when_the_conversation_goes_quiet_and_read_from_the_log()
    {
        var sink = new RecordingSink();
        var (connection, entity, id) = Live(sink, Fast with { QuietResync = TimeSpan.FromMilliseconds(300) });
        connection.Tell(Published(id, 1, 2), entity.Ref);
        AwaitAssert(() => Assert.Equal(Seqs(1, 2), sink.Seqs), Wait);

        // Seq 3 (the conversation's last, "finished") was published but dropped on the way; nothing follows it.
        var probe = entity.ExpectMsg<Subscribe>(Wait);
        Assert.Equal(ReplayFrom.Seq(2), probe.From);
        entity.Reply(new Subscribed(id, 3, 2, "{}"u8.ToArray()));
        var read = entity.ExpectMsg<ReadRange>(Wait);
        Assert.Equal((3L, 3L), (read.FromSeq, read.ToSeq));
        entity.Reply(new EventRange(id, [Envelope(id, 3)]));

        AwaitAssert(() => Assert.Equal(Seqs(1, 3), sink.Seqs), Wait);
        Assert.Equal(1, sink.FullStates);
        Assert.Null(sink.Closed);
    }

    [Fact]
    public void An_unanswered_subscribe_is_sent_again_after_the_request_timeout_and_not_after_it_is_answered()
    {
        var entity = CreateTestProbe();
        var id = ConversationId.New();
        var sink = new RecordingSink();
        var settings = Fast with { RequestTimeout = TimeSpan.FromMilliseconds(300) };
        Sys.ActorOf(ConnectionActor.Props(entity.Ref, id, Dialect.V1, ReplayFrom.LiveOnly, sink, settings));
        entity.ExpectMsg<Subscribe>(Wait); // lost: not answered
        entity.ExpectMsg<Subscribe>(Wait); // the retry
        entity.Reply(new Subscribed(id, 0, 0, "{}"u8.ToArray()));
        AwaitCondition(() => sink.ReplaysCompleted == 1, Wait);

        entity.ExpectNoMsg(TimeSpan.FromMilliseconds(1000)); // no retry once answered (QuietResync is off in Fast)
        Assert.Equal(1, sink.FullStates);
    }

    [Fact]
    public void Connections_from_the_nodes_shared_props_each_subscribe_for_their_own_socket_once_started()
    {
        var entity = CreateTestProbe();
        var props = ConnectionActor.SharedProps(entity.Ref, Dialect.V1, Fast, relays: null);
        var (a, b) = (ConversationId.New(), ConversationId.New());
        var (sinkA, sinkB) = (new RecordingSink(), new RecordingSink());
        var connA = Sys.ActorOf(props);
        var connB = Sys.ActorOf(props);
        entity.ExpectNoMsg(TimeSpan.FromMilliseconds(200)); // nothing before its Start

        connA.Tell(new ConnectionActor.Start(a, ReplayFrom.Seq(3), sinkA));
        connB.Tell(new ConnectionActor.Start(b, ReplayFrom.LiveOnly, sinkB));
        var subs = new[] { entity.ExpectMsg<Subscribe>(Wait), entity.ExpectMsg<Subscribe>(Wait) }.OrderBy(x => x.ConversationId == a ? 0 : 1).ToArray();
        Assert.Equal((a, connA, ReplayFrom.Seq(3)), (subs[0].ConversationId, subs[0].Subscriber, subs[0].From));
        Assert.Equal((b, connB, ReplayFrom.LiveOnly), (subs[1].ConversationId, subs[1].Subscriber, subs[1].From));
        entity.Send(connA, new Subscribed(a, 5, 3, "{}"u8.ToArray()));
        var read = entity.ExpectMsg<ReadRange>(Wait);
        Assert.Equal((a, 4L, 5L), (read.ConversationId, read.FromSeq, read.ToSeq));
        Assert.Equal(1, sinkA.FullStates);
        Assert.Equal(0, sinkB.FullStates);
    }

    [Fact]
    public void A_connection_from_the_shared_props_told_anything_before_its_start_stops_without_subscribing()
    {
        var entity = CreateTestProbe();
        var connection = Sys.ActorOf(ConnectionActor.SharedProps(entity.Ref, Dialect.V1, Fast, relays: null));
        Watch(connection);
        connection.Tell(new ConnectionActor.ClientBadFrame("too early"));
        ExpectTerminated(connection, Wait);
        entity.ExpectNoMsg(TimeSpan.FromMilliseconds(200));
    }

    [Fact]
    public void A_connection_on_a_relay_leaves_the_quiet_check_to_its_relay()
    {
        // Subscribed through a relay (this node's, a local hop that loses nothing), the socket keeps no quiet timer: the
        // relay checks the entity once for all its sockets (ConversationRelayTests). The same settings without a relay
        // check within 300 ms (the test above).
        var region = CreateTestProbe();
        var relay = CreateTestProbe();
        var id = ConversationId.New();
        var sink = new RecordingSink();
        var connection = Sys.ActorOf(ConnectionActor.Props(region.Ref, id, Dialect.V1, ReplayFrom.LiveOnly, sink,
            Fast with { QuietResync = TimeSpan.FromMilliseconds(300) }, relays: relay.Ref));
        relay.ExpectMsg<Subscribe>(Wait);
        relay.Reply(new Subscribed(id, 0, 0, "{}"u8.ToArray()));
        connection.Tell(Published(id, 1, 2), relay.Ref);
        AwaitAssert(() => Assert.Equal(Seqs(1, 2), sink.Seqs), Wait);

        relay.ExpectNoMsg(TimeSpan.FromMilliseconds(1500)); // five quiet periods
        region.ExpectNoMsg(TimeSpan.Zero);
        Assert.Null(sink.Closed);
    }

    [Fact]
    public void A_busy_conversation_is_not_asked_for_its_last_seq()
    {
        var sink = new RecordingSink();
        // An event every ~100 ms for 3 s against a 1 s quiet window: a connection that asked on a timer regardless of
        // traffic would ask about three times; one that waits for quiet never does. A loaded machine can hold this
        // thread for a whole window between two events (it once did, at 400 ms and at 100 ms): the connection then saw
        // a quiet second and may ask, so an ask is accepted, and answered, only after such a stall of this thread.
        var quiet = TimeSpan.FromSeconds(1);
        var (connection, entity, id) = Live(sink, Fast with { QuietResync = quiet });
        var sinceSend = System.Diagnostics.Stopwatch.StartNew();
        for (var seq = 1; seq <= 30; seq++)
        {
            var gap = sinceSend.Elapsed;
            connection.Tell(Published(id, seq, seq), entity.Ref);
            sinceSend.Restart();
            for (var asked = entity.ReceiveOne(TimeSpan.FromMilliseconds(100)); asked is not null;
                 asked = entity.ReceiveOne(TimeSpan.Zero))
            {
                Assert.True(gap >= quiet || sinceSend.Elapsed >= quiet,
                    $"asked for the last seq at seq {seq}, {gap.TotalMilliseconds:0} ms after the event before it");
                var subscribe = Assert.IsType<Subscribe>(asked);
                entity.Reply(new Subscribed(id, subscribe.From.AfterSeq, subscribe.From.AfterSeq, "{}"u8.ToArray()));
            }
        }
        AwaitAssert(() => Assert.Equal(Seqs(1, 30), sink.Seqs), Wait);
    }

    [Fact]
    public void Live_events_during_a_replay_are_not_held_but_extend_the_replay_which_reads_them_from_the_log()
    {
        var entity = CreateTestProbe();
        var id = ConversationId.New();
        var sink = new RecordingSink();
        Sys.ActorOf(ConnectionActor.Props(entity.Ref, id, Dialect.V1, ReplayFrom.All, sink, Fast));
        entity.ExpectMsg<Subscribe>(Wait);
        entity.Reply(new Subscribed(id, 20, 0, "{}"u8.ToArray()));
        var first = entity.ExpectMsg<ReadRange>(Wait);
        Assert.Equal((1L, 20L), (first.FromSeq, first.ToSeq));

        // 2,000 events are published while the first read is out: none is kept, the replay now runs to 2,020.
        for (var seq = 21; seq <= 2020; seq += 100) entity.Send(entity.LastSender, Published(id, seq, seq + 99));
        entity.Reply(new EventRange(id, Published(id, 1, 7).Events));
        var next = entity.ExpectMsg<ReadRange>(Wait);
        Assert.Equal((8L, 2020L), (next.FromSeq, next.ToSeq));

        for (var read = next; ; read = entity.ExpectMsg<ReadRange>(Wait))
        {
            var to = Math.Min(read.FromSeq + read.Max - 1, read.ToSeq);
            entity.Reply(new EventRange(id, Published(id, read.FromSeq, to).Events));
            if (to == 2020) break;
        }
        AwaitCondition(() => sink.ReplaysCompleted == 1, Wait);
        Assert.Equal(Seqs(1, 2020), sink.Seqs);
    }

    [Fact]
    public void A_socket_that_sends_without_waiting_is_told_busy_past_its_commands_in_flight_and_nothing_extra_is_applied()
    {
        var sink = new RecordingSink();
        var (connection, entity, id) = Live(sink, Fast with { MaxCommandsInFlight = 3 });
        var message = new UserMessage("""[{"type":"text","text":"hi"}]"""u8.ToArray(), Run: true);

        connection.Tell(new ConnectionActor.ClientUserAction(Protocol.V0.V0Json.UserMessage("first"), AckId: 1));
        for (var i = 0; i < 4; i++) connection.Tell(new ConnectionActor.ClientMessage(message));
        connection.Tell(new ConnectionActor.ClientUserAction(Protocol.V0.V0Json.UserMessage("x"), AckId: 9));

        entity.ExpectMsg<SubmitUserAction>(Wait);
        var firstAsker = entity.LastSender;
        entity.ExpectMsg<SendMessage>(Wait);
        entity.ExpectMsg<SendMessage>(Wait);
        entity.ExpectNoMsg(TimeSpan.FromMilliseconds(300));
        AwaitAssert(() => Assert.Equal(3, sink.Errors.Count(e => e.Code == "busy")), Wait);
        var busyAck = Assert.Single(sink.Acks);
        Assert.Equal(9, busyAck.AckId);
        Assert.Contains("not applied", busyAck.Error);

        // An answer frees a place.
        firstAsker.Tell(CommandResult.Ok);
        AwaitAssert(() => Assert.Contains((1L, (string?)null), sink.Acks), Wait);
        connection.Tell(new ConnectionActor.ClientMessage(message));
        entity.ExpectMsg<SendMessage>(Wait);
        Assert.Null(sink.Closed);
    }

    [Fact]
    public void A_user_action_is_acknowledged_only_once_it_is_answered_and_with_the_refusal_when_refused()
    {
        var sink = new RecordingSink();
        var (connection, entity, _) = Live(sink, Fast);

        connection.Tell(new ConnectionActor.ClientUserAction(Protocol.V0.V0Json.UserMessage("a"), AckId: 1));
        entity.ExpectMsg<SubmitUserAction>(Wait);
        var stored = entity.LastSender;
        connection.Tell(new ConnectionActor.ClientUserAction(Protocol.V0.V0Json.UserMessage("b"), AckId: 2));
        entity.ExpectMsg<SubmitUserAction>(Wait);
        var refused = entity.LastSender;
        Assert.Empty(sink.Acks); // nothing is durable yet

        refused.Tell(new CommandResult(ResultCode.BadRequest, "cannot do that now"));
        stored.Tell(CommandResult.Ok);

        AwaitAssert(() => Assert.Equal(2, sink.Acks.Length), Wait);
        Assert.Contains((2L, "cannot do that now"), sink.Acks);
        Assert.Contains((1L, (string?)null), sink.Acks);
    }

    /// <summary>A sink that throws when asked to write one particular event (a bug in the socket path).</summary>
    private sealed class ThrowingSink(long failAtSeq) : IClientSink
    {
        public RecordingSink Inner { get; } = new();
        public void WriteFullState(byte[] fullState) => Inner.WriteFullState(fullState);
        public bool TryWriteEvent(EventEnvelope e, bool replay) =>
            e.Seq == failAtSeq ? throw new InvalidOperationException("boom") : Inner.TryWriteEvent(e, replay);
        public void ReplayCompleted() => Inner.ReplayCompleted();
        public void WriteError(string code, string detail) => Inner.WriteError(code, detail);
        public void Acknowledge(long ackId, string? error) => Inner.Acknowledge(ackId, error);
        public bool HasRoomForReplay => Inner.HasRoomForReplay;
        public Task WhenRoomForReplay() => Inner.WhenRoomForReplay();
        public void Close(int code, string reason) => Inner.Close(code, reason);
    }
}
