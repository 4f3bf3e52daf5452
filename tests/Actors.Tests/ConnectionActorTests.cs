using Akka.Actor;
using Akka.Sync.Actors.Connections;
using Akka.Sync.Actors.Conversations;
using Akka.Sync.Actors.Tests.Support;
using Akka.Sync.Protocol;
using Xunit;
using Xunit.Abstractions;
using static Akka.Sync.Protocol.ConversationCommands;
using static Akka.Sync.Protocol.ConversationReplies;

namespace Akka.Sync.Actors.Tests;

public sealed class ConnectionActorTests(ITestOutputHelper output) : SqliteActorTest(output)
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(15);
    private static readonly ConnectionSettings Fast = new(ReplayChunk: 7, RequestTimeout: TimeSpan.FromSeconds(1));

    private ConversationId Create(IActorRef region)
    {
        var id = ConversationId.New();
        region.Tell(new Create(id, Dialect.V1, null, null, ConversationState.HashKey("k")));
        ExpectMsg<CreateResult>(Wait);
        return id;
    }

    private AppendedItem[] Append(IActorRef region, ConversationId id, int n)
    {
        region.Tell(new AppendEvents(id, Enumerable.Range(0, n).Select(_ => Event()).ToArray()));
        return ExpectMsg<AppendResult>(Wait).Items;
    }

    private IActorRef Connect(IActorRef region, ConversationId id, ReplayFrom from, RecordingSink sink) =>
        Sys.ActorOf(ConnectionActor.Props(region, id, Dialect.V1, from, sink, Fast));

    [Fact]
    public void Replays_history_before_live_events_with_appends_racing_the_subscription()
    {
        var region = Region(Settings(tail: 10, chunk: 7));
        var id = Create(region);
        Append(region, id, 40);
        var writer = CreateTestProbe();
        var sink = new RecordingSink();

        // Appends keep arriving while the connection subscribes and replays.
        for (var i = 0; i < 30; i++) region.Tell(new AppendEvents(id, [Event(), Event()]), writer.Ref);
        Connect(region, id, ReplayFrom.All, sink);
        for (var i = 0; i < 30; i++) writer.ExpectMsg<AppendResult>(Wait);
        Append(region, id, 5);

        AwaitAssert(() => Assert.Equal(105, sink.Events.Count), Wait);
        Assert.Equal(Enumerable.Range(1, 105).Select(i => (long)i), sink.Seqs);
        Assert.Equal(1, sink.FullStates);
    }

    [Fact]
    public void Live_only_starts_after_the_last_stored_event()
    {
        var region = Region(Settings());
        var id = Create(region);
        Append(region, id, 3);
        var sink = new RecordingSink();
        Connect(region, id, ReplayFrom.LiveOnly, sink);
        AwaitCondition(() => sink.FullStates == 1, Wait);

        Append(region, id, 2);

        AwaitAssert(() => Assert.Equal([4L, 5L], sink.Seqs), Wait);
    }

    [Fact]
    public void After_event_id_replays_exactly_the_events_after_it()
    {
        var region = Region(Settings(tail: 5));
        var id = Create(region);
        var items = Append(region, id, 20);
        var sink = new RecordingSink();

        Connect(region, id, ReplayFrom.EventId(items[8].Id), sink);

        AwaitAssert(() => Assert.Equal(Enumerable.Range(10, 11).Select(i => (long)i), sink.Seqs), Wait);
    }

    [Fact]
    public void Resubscribes_from_the_last_delivered_seq_after_the_entity_restarts()
    {
        var region = Region(Settings(tail: 3));
        var id = Create(region);
        Append(region, id, 10);
        var sink = new RecordingSink();
        Connect(region, id, ReplayFrom.All, sink);
        AwaitAssert(() => Assert.Equal(10, sink.Events.Count), Wait);

        for (var round = 0; round < 3; round++)
        {
            region.Tell(new EntityParent.StopEntity(id));
            Append(region, id, 5);
        }

        AwaitAssert(() => Assert.Equal(Enumerable.Range(1, 25).Select(i => (long)i), sink.Seqs), Wait);
        Assert.Equal(1, sink.FullStates);
    }

    [Fact]
    public void A_full_queue_closes_the_socket_with_1013_and_stops_the_connection()
    {
        var region = Region(Settings());
        var id = Create(region);
        var sink = new RecordingSink();
        var connection = Connect(region, id, ReplayFrom.LiveOnly, sink);
        Watch(connection);
        AwaitCondition(() => sink.FullStates == 1, Wait);

        sink.Fill();
        Append(region, id, 1);

        ExpectTerminated(connection, Wait);
        Assert.Equal((1013, "slow consumer"), sink.Closed);
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
        Assert.Equal(0, sink.FullStates);
    }

    [Fact]
    public void An_unknown_after_event_id_closes_with_4009()
    {
        var region = Region(Settings());
        var id = Create(region);
        Append(region, id, 2);
        var sink = new RecordingSink();
        var connection = Connect(region, id, ReplayFrom.EventId(Guid.NewGuid().ToString("D")), sink);
        Watch(connection);

        ExpectTerminated(connection, Wait);
        Assert.Equal((4009, "unknown after_event_id"), sink.Closed);
    }

    [Fact]
    public void A_deleted_conversation_closes_its_sockets_with_4004()
    {
        var region = Region(Settings());
        var id = Create(region);
        var sink = new RecordingSink();
        var connection = Connect(region, id, ReplayFrom.LiveOnly, sink);
        Watch(connection);
        AwaitCondition(() => sink.FullStates == 1, Wait);

        region.Tell(new Delete(id));
        ExpectMsg<CommandResult>(Wait);

        ExpectTerminated(connection, Wait);
        Assert.Equal(4004, sink.Closed!.Value.Code);
    }

    [Fact]
    public void A_client_message_is_appended_and_a_refusal_comes_back_as_an_error_frame()
    {
        var region = Region(Settings());
        var id = Create(region);
        var sink = new RecordingSink();
        var connection = Connect(region, id, ReplayFrom.LiveOnly, sink);
        AwaitCondition(() => sink.FullStates == 1, Wait);

        connection.Tell(new ConnectionActor.ClientMessage(new UserMessage("""[{"type":"text","text":"hi"}]"""u8.ToArray(), Run: true)));
        AwaitAssert(() => Assert.Equal(["MessageEvent", "ConversationStateUpdateEvent"], sink.Events.Select(e => e.Kind)), Wait);

        connection.Tell(new ConnectionActor.ClientBadFrame("nope"));
        AwaitAssert(() => Assert.Contains(("bad_frame", "nope"), sink.Errors), Wait);
    }
}
