using System.Text;
using System.Collections.Immutable;
using System.Runtime.Serialization;
using Akka.Actor;
using Akka.Sync.Actors.Conversations;
using Akka.Sync.Actors.Serialization;
using Akka.Sync.Protocol;
using Akka.Sync.Protocol.V1;
using Xunit;
using Xunit.Abstractions;
using Filter = Akka.Sync.Protocol.ConversationQueries.EventFilter;

namespace Akka.Sync.Actors.Tests;

/// <summary>Every message that crosses nodes or is persisted round-trips through the one serializer.</summary>
public sealed class SyncSerializerTests(ITestOutputHelper output) : Akka.TestKit.Xunit2.TestKit(
    "akka.actor.serializers.akka-sync = \"Akka.Sync.Actors.Serialization.SyncSerializer, Akka.Sync.Actors\"\n" +
    "akka.actor.serialization-bindings { \"Akka.Sync.Protocol.ISyncMessage, Akka.Sync.Protocol\" = akka-sync }", output: output)
{
    private static readonly ConversationId Id = ConversationId.New();
    private static readonly byte[] Hash = ConversationState.HashKey("k");
    private static readonly ConversationInfo Info = new(Id, Dialect.V0, "t", ExecutionStatus.Paused, 1000, 2000, 3, Akka.Sync.Protocol.V0.AgentState.Running);
    private static readonly EventEnvelope Envelope = new(Id, 7, Guid.NewGuid().ToString("D"), "MessageEvent", "agent", 638_000_000_000_000_000,
        """{"kind":"MessageEvent","text":"é😀\u0000"}"""u8.ToArray());

    private object Sample(Type type)
    {
        var state = ConversationState.Empty(Id) with
        {
            Exists = true, Title = "t", LastSeq = 3, KeyHashes = [Hash],
            Pending = ImmutableList.Create(new PendingAction("a", "bash", "c")),
            Upstream = new UpstreamBinding("http://127.0.0.1:9/prefix", Guid.NewGuid().ToString("D"), [4, 5, 6]),
        };
        var samples = new object[]
        {
            Envelope,
            new EventBatch([Envelope, Envelope with { Seq = 8, Id = "8", Kind = "K", Json = "{}"u8.ToArray() }]),
            new ConversationEvents.Created(Id, Dialect.V1, "t", 5, Hash),
            new ConversationEvents.TitleChanged("t", 5),
            new ConversationEvents.KeyIssued(Hash),
            new ConversationEvents.Deleted(5),
            new ConversationEvents.UpstreamBound(new UpstreamBinding("http://127.0.0.1:9", Guid.NewGuid().ToString("D"), [1, 2, 3])),
            new UpstreamCommands.Wake(Id),
            new DirectoryQueries.Followed(),
            new DirectoryQueries.FollowedResult([Id]),
            new ConversationSnapshot(state),
            new LegacyConversationSnapshot(state, [new IndexEntry(1, 2, "e1", "K", "agent", 3)]),
            IndexSegment.Encode(SegmentSource(), 1, 2),
            new ConversationCommands.Create(Id, Dialect.V1, "t", new UserMessage("[]"u8.ToArray(), true), Hash),
            new ConversationCommands.SendMessage(Id, new UserMessage("[]"u8.ToArray(), false)),
            new ConversationCommands.Run(Id),
            new ConversationCommands.Pause(Id, Interrupt: true),
            new ConversationCommands.RespondToConfirmation(Id, false, "why"),
            new ConversationCommands.AppendEvents(Id, [new IncomingEvent("K", "agent", "i", "{}"u8.ToArray())]),
            new ConversationCommands.SetTitle(Id, "t"),
            new ConversationCommands.Delete(Id),
            new ConversationCommands.SubmitUserAction(Id, Akka.Sync.Protocol.V0.V0Json.ChangeAgentState(Akka.Sync.Protocol.V0.AgentState.Paused)),
            new ConversationCommands.AppendV0Events(Id, [Akka.Sync.Protocol.V0.V0Json.AgentStateChanged(Akka.Sync.Protocol.V0.AgentState.Running)]),
            new ConversationQueries.GetInfo(Id),
            new ConversationQueries.SearchEvents(Id, new Filter("K", "agent", 1, 2), "p", 10, true),
            new ConversationQueries.CountEvents(Id, Filter.None),
            new ConversationQueries.GetEvent(Id, "e"),
            new ConversationQueries.Authorize(Id, Hash),
            new ConversationReplies.CommandResult(ResultCode.Conflict, "d"),
            new ConversationReplies.CreateResult(ResultCode.Created, null, Info),
            new ConversationReplies.AppendResult(ResultCode.Ok, null, [new ConversationReplies.AppendedItem("i", 1)]),
            new ConversationReplies.InfoResult(ResultCode.Ok, Info with
            {
                Upstream = new UpstreamView("http://u", "c", new UpstreamLinkStatus("live", true, 1, 0.5, 2, 3, "e", null)),
            }),
            new ConversationReplies.EventPage(ResultCode.Ok, ["{}"u8.ToArray()], "n"),
            new ConversationReplies.EventCount(ResultCode.Ok, 4),
            new ConversationReplies.EventResult(ResultCode.Ok, "{}"u8.ToArray()),
            new ConversationReplies.AuthorizeResult(true, false),
            Info,
            new ConversationSubscription.Subscribe(Id, TestActor, ReplayFrom.EventId("e"), Dialect.V1, TestActor),
            new ConversationSubscription.Subscribed(Id, 9, 3, "{}"u8.ToArray(), TestActor),
            new ConversationSubscription.Refused(Id, RefusalReason.UnknownAfterEventId, TestActor),
            new ConversationSubscription.Unsubscribe(Id, TestActor, TestActor),
            new ConversationSubscription.Resubscribe(Id, TestActor, [TestActor]),
            new ConversationSubscription.ReadRange(Id, 1, 9, 5),
            new ConversationSubscription.EventRange(Id, [Envelope]),
            new ConversationSubscription.EventsPublished(Id, [Envelope, Envelope]),
            new ConversationSubscription.Ended(Id, RefusalReason.Deleted),
            new DirectoryCommands.Upsert(Info, false),
            new DirectoryQueries.Search(ExecutionStatus.Idle, "p", 5, ConversationSort.UpdatedAtDesc),
            new DirectoryQueries.Count(null),
            new DirectoryQueries.Page(ResultCode.Ok, [Info], null),
            new DirectoryQueries.CountResult(3),
            new DirectorySnapshot([Info, Info with { Upstream = new UpstreamView("http://u", "c") }]),
            ClientPreferences.Get.Instance,
            new ClientPreferences.Merge("""{"app_preferences":{"language":"de"}}"""),
            new ClientPreferences.Document("""{"app_preferences":{}}"""),
            new ClientPreferences.TooLarge(70_000),
        };
        return samples.Single(s => s.GetType() == type);
    }

    private static EventIndex SegmentSource()
    {
        var index = new EventIndex();
        index.Add(new IndexEntry(1, 2, Guid.NewGuid().ToString("D"), "K", "agent", 3));
        index.Add(new IndexEntry(2, 3, "2", "K", "user", 4));
        return index;
    }

    public static TheoryData<Type> Types()
    {
        var data = new TheoryData<Type>();
        foreach (var t in SyncSerializer.KnownTypes) data.Add(t);
        return data;
    }

    [Theory]
    [MemberData(nameof(Types))]
    public void Every_bound_type_round_trips_through_the_configured_serializer(Type type)
    {
        var message = Sample(type);
        var serializer = Sys.Serialization.FindSerializerFor(message);
        Assert.IsType<SyncSerializer>(serializer);
        var manifest = Akka.Serialization.Serialization.ManifestFor(serializer, message);
        var bytes = serializer.ToBinary(message);

        var back = Sys.Serialization.Deserialize(bytes, serializer.Identifier, manifest);

        Assert.IsType(type, back);
        Assert.Equal(bytes, serializer.ToBinary(back));
    }

    [Fact]
    public void Envelopes_keep_their_json_bytes_exactly()
    {
        var serializer = (SyncSerializer)Sys.Serialization.FindSerializerFor(Envelope);
        var back = (EventEnvelope)serializer.FromBinary(serializer.ToBinary(Envelope), serializer.Manifest(Envelope));
        Assert.Equal(Envelope.Json, back.Json);
        Assert.Equal(Envelope with { Json = back.Json }, back);
    }

    [Fact]
    public void Envelopes_are_written_as_the_binary_writer_layout_stored_rows_have()
    {
        // What the journal holds from before the exact-size writer: the same bytes, so old rows decode and new rows are
        // readable by nodes that still run the BinaryWriter version.
        using var ms = new MemoryStream();
        using (var w = new BinaryWriter(ms, Encoding.UTF8, leaveOpen: true))
        {
            w.Write((byte)1);
            w.Write(Envelope.ConversationId.Value.ToByteArray());
            w.Write(Envelope.Seq);
            w.Write(Envelope.Id);
            w.Write(Envelope.Kind);
            w.Write(Envelope.Source);
            w.Write(Envelope.TimestampTicks);
            w.Write(Envelope.Json.Length);
            w.Write(Envelope.Json);
        }
        var serializer = (SyncSerializer)Sys.Serialization.FindSerializerFor(Envelope);
        Assert.Equal(ms.ToArray(), serializer.ToBinary(Envelope));
        var back = (EventEnvelope)serializer.FromBinary(ms.ToArray(), "ev");
        Assert.Equal(Envelope with { Json = back.Json }, back);
    }

    [Fact]
    public void A_batch_keeps_each_event_exactly()
    {
        var long_ = new string('é', 300); // a string length past one byte of its prefix
        var batch = new EventBatch([Envelope, Envelope with { Seq = 8, Id = long_, Kind = "K", Source = "user", Json = "{}"u8.ToArray() }]);
        var serializer = (SyncSerializer)Sys.Serialization.FindSerializerFor(batch);
        var back = (EventBatch)serializer.FromBinary(serializer.ToBinary(batch), serializer.Manifest(batch));
        Assert.Equal(2, back.Events.Length);
        for (var i = 0; i < 2; i++)
        {
            Assert.Equal(batch.Events[i].Json, back.Events[i].Json);
            Assert.Equal(batch.Events[i] with { Json = back.Events[i].Json }, back.Events[i]);
        }
    }

    [Fact]
    public void Actor_refs_in_messages_resolve_back_to_the_same_actor()
    {
        var message = new ConversationSubscription.Subscribe(Id, TestActor, ReplayFrom.All, Dialect.V1);
        var serializer = (SyncSerializer)Sys.Serialization.FindSerializerFor(message);
        var back = (ConversationSubscription.Subscribe)serializer.FromBinary(serializer.ToBinary(message), serializer.Manifest(message));
        Assert.Equal(TestActor, back.Subscriber);
        back.Subscriber.Tell("ping");
        ExpectMsg("ping");
    }

    [Fact]
    public void An_unknown_manifest_is_a_serialization_error()
    {
        var serializer = (SyncSerializer)Sys.Serialization.FindSerializerFor(Envelope);
        Assert.Throws<SerializationException>(() => serializer.FromBinary([1, 2, 3], "no-such-manifest"));
        Assert.Throws<ArgumentException>(() => serializer.Manifest("not bound"));
    }

    [Fact]
    public void Every_sync_message_type_in_the_protocol_is_bound()
    {
        var protocolTypes = typeof(ISyncMessage).Assembly.GetTypes()
            .Concat(typeof(ConversationSnapshot).Assembly.GetTypes())
            .Where(t => typeof(ISyncMessage).IsAssignableFrom(t) && t is { IsInterface: false, IsAbstract: false });
        Assert.Empty(protocolTypes.Except(SyncSerializer.KnownTypes));
    }
}
