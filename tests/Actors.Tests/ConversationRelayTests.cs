using Akka.Actor;
using Akka.Sync.Actors.Connections;
using Akka.Sync.Actors.Tests.Support;
using Akka.Sync.Protocol;
using Xunit;
using Xunit.Abstractions;
using static Akka.Sync.Protocol.ConversationCommands;
using static Akka.Sync.Protocol.ConversationReplies;
using static Akka.Sync.Protocol.ConversationSubscription;

namespace Akka.Sync.Actors.Tests;

/// <summary>
/// Issue 14: sockets subscribing through their node's relay. Against real entities on SQLite, every socket still sees
/// every event once, in order, across appends racing the subscriptions and entity restarts; against a scripted entity
/// (a probe), the relay's own stream: one message per write for all its sockets, gaps read from the log, a quiet check
/// answered locally, a re-attachment after the entity moved, and retirement when the last socket leaves.
/// </summary>
public sealed class ConversationRelayTests(ITestOutputHelper output) : SqliteActorTest(output)
{
    private static readonly ConnectionSettings Fast = new(ReplayChunk: 7, RequestTimeout: TimeSpan.FromSeconds(1));

    private IActorRef Registry(IActorRef region, ConnectionSettings? settings = null) =>
        Sys.ActorOf(RelayRegistry.Props(region, settings ?? Fast));

    private IActorRef Connect(IActorRef region, IActorRef registry, ConversationId id, ReplayFrom from, RecordingSink sink) =>
        Sys.ActorOf(ConnectionActor.Props(region, id, Dialect.V1, from, sink, Fast, registry));

    private int Relays(IActorRef registry)
    {
        registry.Tell(RelayRegistry.GetStats.Instance);
        return ExpectMsg<RelayRegistry.Stats>(Wait).Relays;
    }

    // ---- against real entities ----

    [Fact]
    public void Sockets_through_one_relay_get_history_then_live_events_exactly_once_with_appends_racing_their_subscriptions()
    {
        var region = Region(Settings(tail: 10, chunk: 7));
        var registry = Registry(region);
        var id = CreateConversation(region);
        AppendOk(region, id, 30);
        var writer = CreateTestProbe();
        var sinks = Enumerable.Range(0, 5).Select(_ => new RecordingSink()).ToArray();

        for (var i = 0; i < 20; i++) region.Tell(new AppendEvents(id, Events(2)), writer.Ref);
        Connect(region, registry, id, ReplayFrom.All, sinks[0]);
        Connect(region, registry, id, ReplayFrom.All, sinks[1]);
        for (var i = 0; i < 20; i++) region.Tell(new AppendEvents(id, Events(1)), writer.Ref);
        Connect(region, registry, id, ReplayFrom.All, sinks[2]);
        Connect(region, registry, id, ReplayFrom.Seq(25), sinks[3]);
        Connect(region, registry, id, ReplayFrom.LiveOnly, sinks[4]);
        for (var i = 0; i < 40; i++) Assert.Equal(ResultCode.Ok, writer.ExpectMsg<AppendResult>(Wait).Code);
        AwaitCondition(() => sinks[4].ReplaysCompleted == 1, Wait);
        AppendOk(region, id, 5);

        foreach (var sink in sinks.Take(3)) AwaitAssert(() => Assert.Equal(Seqs(1, 95), sink.Seqs), Wait);
        AwaitAssert(() => Assert.Equal(Seqs(26, 95), sinks[3].Seqs), Wait);
        // Live only: from wherever the conversation was when its subscription was decided (writes were racing it), on.
        AwaitAssert(() => Assert.Equal(Seqs(sinks[4].Seqs[0], 95), sinks[4].Seqs), Wait);
        Assert.InRange(sinks[4].Seqs[0], 1, 91);
        Assert.All(sinks, s => Assert.Equal(1, s.FullStates));
        Assert.All(sinks, s => Assert.Null(s.Closed));
        Assert.Equal(1, Relays(registry));
    }

    [Fact]
    public void After_entity_restarts_the_relay_reattaches_and_every_socket_still_gets_every_event_once_in_order()
    {
        var region = Region(Settings(tail: 3));
        var registry = Registry(region);
        var id = CreateConversation(region);
        AppendOk(region, id, 10);
        var sinks = Enumerable.Range(0, 3).Select(_ => new RecordingSink()).ToArray();
        foreach (var sink in sinks) Connect(region, registry, id, ReplayFrom.All, sink);
        foreach (var sink in sinks) AwaitAssert(() => Assert.Equal(10, sink.Events.Length), Wait);

        for (var round = 0; round < 3; round++)
        {
            RestartEntity(region, id);
            AppendOk(region, id, 5);
        }

        foreach (var sink in sinks) AwaitAssert(() => Assert.Equal(Seqs(1, 25), sink.Seqs), Wait);
        Assert.All(sinks, s => Assert.Equal(1, s.FullStates));
        Assert.All(sinks, s => Assert.Null(s.Closed));
    }

    [Fact]
    public void A_deleted_conversation_closes_every_socket_of_its_relay_with_4004_and_the_relay_retires()
    {
        var region = Region(Settings());
        var registry = Registry(region);
        var id = CreateConversation(region);
        var sinks = new[] { new RecordingSink(), new RecordingSink() };
        var connections = sinks.Select(s => Connect(region, registry, id, ReplayFrom.LiveOnly, s)).ToArray();
        foreach (var c in connections) Watch(c);
        AwaitCondition(() => sinks.All(s => s.ReplaysCompleted == 1), Wait);

        region.Tell(new Delete(id));
        ExpectMsg<CommandResult>(Wait);

        var ended = new[] { ExpectMsg<Terminated>(Wait).ActorRef, ExpectMsg<Terminated>(Wait).ActorRef };
        Assert.Equal(connections.ToHashSet(), ended.ToHashSet());
        Assert.All(sinks, s => Assert.Equal((4004, "Conversation not found"), s.Closed));
        AwaitCondition(() => Relays(registry) == 0, Wait);
    }

    [Fact]
    public async Task A_relay_that_stops_makes_its_sockets_resubscribe_through_a_new_one_from_what_each_delivered()
    {
        var region = Region(Settings());
        var registry = Registry(region);
        var id = CreateConversation(region);
        AppendOk(region, id, 4);
        var sinks = new[] { new RecordingSink(), new RecordingSink() };
        foreach (var sink in sinks) Connect(region, registry, id, ReplayFrom.All, sink);
        foreach (var sink in sinks) AwaitAssert(() => Assert.Equal(Seqs(1, 4), sink.Seqs), Wait);

        var relay = await Sys.ActorSelection(registry.Path / "*").ResolveOne(Wait);
        Watch(relay);
        Sys.Stop(relay);
        ExpectTerminated(relay, Wait);
        AppendOk(region, id, 3);

        foreach (var sink in sinks) AwaitAssert(() => Assert.Equal(Seqs(1, 7), sink.Seqs), Wait);
        Assert.All(sinks, s => Assert.Equal(1, s.FullStates));
        AwaitCondition(() => Relays(registry) == 1, Wait);
    }

    [Fact]
    public void When_the_last_socket_leaves_the_relay_unsubscribes_it_and_retires_and_the_next_socket_gets_a_fresh_relay()
    {
        var entity = CreateTestProbe();
        var registry = Registry(entity.Ref);
        var id = ConversationId.New();
        var sink = new RecordingSink();
        var connection = Connect(entity.Ref, registry, id, ReplayFrom.LiveOnly, sink);
        var sub = entity.ExpectMsg<Subscribe>(Wait);
        Assert.Equal(connection, sub.Subscriber);
        var relay = sub.Relay!;
        Assert.Equal(registry.Path, relay.Path.Parent);
        entity.Reply(new Subscribed(id, 0, 0, "{}"u8.ToArray(), connection));
        AwaitCondition(() => sink.ReplaysCompleted == 1, Wait);
        Watch(relay);

        Sys.Stop(connection);

        var left = entity.FishForMessage<Unsubscribe>(_ => true, Wait);
        Assert.Equal((connection, relay), (left.Subscriber, left.Relay));
        ExpectTerminated(relay, Wait);
        Connect(entity.Ref, registry, id, ReplayFrom.LiveOnly, new RecordingSink());
        Assert.NotEqual(relay, entity.FishForMessage<Subscribe>(_ => true, Wait).Relay);
    }

    [Fact]
    public void A_socket_that_stops_before_its_subscription_is_answered_is_withdrawn_through_the_registry_and_the_relay_retires()
    {
        // Sockets and relays do not watch each other: a socket that does not know its relay yet (its subscription is
        // pending) tells the registry, which tells the conversation's relays.
        var entity = CreateTestProbe();
        var registry = Registry(entity.Ref);
        var id = ConversationId.New();
        var connection = Connect(entity.Ref, registry, id, ReplayFrom.LiveOnly, new RecordingSink());
        var sub = entity.ExpectMsg<Subscribe>(Wait); // not answered
        var relay = sub.Relay!;
        Watch(relay);

        Sys.Stop(connection);

        var left = entity.FishForMessage<Unsubscribe>(_ => true, Wait);
        Assert.Equal((connection, relay), (left.Subscriber, left.Relay));
        ExpectTerminated(relay, Wait);
        AwaitCondition(() => Relays(registry) == 0, Wait);
    }

    // ---- the relay's stream, against a scripted entity ----

    /// <summary>
    /// A relay (through a registry) with <paramref name="sockets"/> live connection actors attached at seq 0. The region
    /// probe gets what the relay asks; the entity probe (the region itself unless given) answers and publishes.
    /// </summary>
    private (Akka.TestKit.TestProbe Entity, IActorRef Relay, RecordingSink[] Sinks, ConversationId Id) Attached(int sockets,
        ConnectionSettings settings, Akka.TestKit.TestProbe? region = null)
    {
        var entity = CreateTestProbe();
        region ??= entity;
        var registry = Registry(region.Ref, settings);
        var id = ConversationId.New();
        var sinks = Enumerable.Range(0, sockets).Select(_ => new RecordingSink()).ToArray();
        IActorRef? relay = null;
        foreach (var sink in sinks)
        {
            var connection = Sys.ActorOf(ConnectionActor.Props(region.Ref, id, Dialect.V1, ReplayFrom.LiveOnly, sink, settings, registry));
            var sub = region.ExpectMsg<Subscribe>(Wait);
            relay = sub.Relay!;
            entity.Send(relay, new Subscribed(id, 0, 0, "{}"u8.ToArray(), connection));
        }
        AwaitCondition(() => sinks.All(s => s.ReplaysCompleted == 1), Wait);
        return (entity, relay!, sinks, id);
    }

    [Fact]
    public void One_publish_to_the_relay_reaches_every_socket_as_the_same_message()
    {
        var (entity, relay, sinks, id) = Attached(3, Fast);

        relay.Tell(Published(id, 1, 3), entity.Ref);
        relay.Tell(Envelope(id, 4), entity.Ref);

        foreach (var sink in sinks) AwaitAssert(() => Assert.Equal(Seqs(1, 4), sink.Seqs), Wait);
        // The same envelopes (the same bytes) reached every socket: nothing was copied per socket.
        Assert.All(sinks, s => Assert.Same(sinks[0].Events[0].Json, s.Events[0].Json));
        entity.ExpectNoMsg(TimeSpan.FromMilliseconds(200)); // and nothing went back to the entity
    }

    [Fact]
    public void A_gap_in_the_relays_stream_is_read_from_the_log_once_for_all_its_sockets_and_forwarded_in_order()
    {
        var (entity, relay, sinks, id) = Attached(3, Fast);
        relay.Tell(Envelope(id, 1), entity.Ref);
        relay.Tell(Envelope(id, 4), entity.Ref); // 2 and 3 were lost on the way
        relay.Tell(Envelope(id, 5), entity.Ref); // arrives while the gap is read: read too, not held

        var read = entity.ExpectMsg<ReadRange>(Wait);
        Assert.Equal((2L, 4L), (read.FromSeq, read.ToSeq));
        entity.Reply(new EventRange(id, [Envelope(id, 2), Envelope(id, 3), Envelope(id, 4)]));
        var next = entity.ExpectMsg<ReadRange>(Wait);
        Assert.Equal((5L, 5L), (next.FromSeq, next.ToSeq));
        entity.Reply(new EventRange(id, [Envelope(id, 5)]));
        relay.Tell(Envelope(id, 6), entity.Ref);

        foreach (var sink in sinks) AwaitAssert(() => Assert.Equal(Seqs(1, 6), sink.Seqs), Wait);
        entity.ExpectNoMsg(TimeSpan.FromMilliseconds(200)); // one read per chunk for the node, none per socket
        Assert.All(sinks, s => Assert.Null(s.Closed));
    }

    [Fact]
    public void A_quiet_relay_asks_the_entity_for_its_last_seq_once_for_all_its_sockets_and_answers_their_checks_itself()
    {
        // Requests wait 5 s before a retry: the check below is answered once, well within it.
        var (entity, relay, sinks, id) = Attached(2, Fast with { QuietResync = TimeSpan.FromMilliseconds(300), RequestTimeout = TimeSpan.FromSeconds(5) });
        relay.Tell(Envelope(id, 1), entity.Ref);
        foreach (var sink in sinks) AwaitAssert(() => Assert.Equal([1L], sink.Seqs), Wait);

        // Seq 2 (the conversation's last) was dropped on the way; nothing follows it. The sockets make no quiet check
        // of their own; the relay's goes to the entity.
        var check = entity.ExpectMsg<Resubscribe>(Wait);
        Assert.Equal(relay, check.Relay);
        Assert.Equal(2, check.Sockets.Length);
        entity.Reply(new Subscribed(id, 2, 2, [], relay));
        var read = entity.ExpectMsg<ReadRange>(Wait);
        Assert.Equal((2L, 2L), (read.FromSeq, read.ToSeq));
        entity.Reply(new EventRange(id, [Envelope(id, 2)]));

        foreach (var sink in sinks) AwaitAssert(() => Assert.Equal(Seqs(1, 2), sink.Seqs), Wait);
        Assert.All(sinks, s => Assert.Equal(1, s.FullStates));
    }

    [Fact]
    public void When_the_entity_terminates_the_relay_reattaches_once_with_its_sockets_and_reads_what_it_missed()
    {
        var region = CreateTestProbe();
        var (oldEntity, relay, sinks, id) = Attached(3, Fast, region);
        relay.Tell(Envelope(id, 1), oldEntity.Ref);
        foreach (var sink in sinks) AwaitAssert(() => Assert.Equal([1L], sink.Seqs), Wait);

        // The relay watches the entity that answered: its end is the entity moving, or its node dying.
        Sys.Stop(oldEntity.Ref);
        var again = region.ExpectMsg<Resubscribe>(Wait);
        Assert.Equal((relay, 3), (again.Relay, again.Sockets.Length));
        var newEntity = CreateTestProbe();
        newEntity.Send(relay, new Subscribed(id, 3, 3, [], relay)); // two writes were published while it moved
        var read = region.ExpectMsg<ReadRange>(Wait);
        Assert.Equal((2L, 3L), (read.FromSeq, read.ToSeq));
        region.Reply(new EventRange(id, [Envelope(id, 2), Envelope(id, 3)]));
        relay.Tell(Envelope(id, 4), newEntity.Ref);

        foreach (var sink in sinks) AwaitAssert(() => Assert.Equal(Seqs(1, 4), sink.Seqs), Wait);
        Assert.All(sinks, s => Assert.Equal(1, s.FullStates)); // the sockets never resubscribed themselves
        region.ExpectNoMsg(TimeSpan.FromMilliseconds(200));
    }

    private static EventEnvelope Envelope(ConversationId id, long seq) =>
        new(id, seq, Guid.NewGuid().ToString("D"), "MessageEvent", "agent", seq, System.Text.Encoding.UTF8.GetBytes($"{{\"n\":{seq}}}"));

    private static EventsPublished Published(ConversationId id, long from, long to) =>
        new(id, Enumerable.Range((int)from, (int)(to - from + 1)).Select(s => Envelope(id, s)).ToArray());
}
