using System.Runtime.Serialization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;
using Akka.Actor;
using Akka.Serialization;
using Akka.Sync.Actors.Conversations;
using Akka.Sync.Protocol;

namespace Akka.Sync.Actors.Serialization;

/// <summary>
/// The one serializer for everything that crosses nodes or is persisted (<see cref="ISyncMessage"/>).
/// Log entries (<see cref="EventEnvelope"/>), the hot path of both the journal and fan-out, use a compact
/// binary layout that carries the event's JSON bytes as they are; the rest is System.Text.Json.
/// Manifests are short, stable names so stored data survives renames of the CLR types.
/// </summary>
public sealed class SyncSerializer : SerializerWithStringManifest
{
    public const int SerializerId = 4711;
    private const byte EnvelopeVersion = 1;

    private static readonly Dictionary<string, Type> TypesByManifest = BuildManifests();
    private static readonly Dictionary<Type, string> ManifestsByType = TypesByManifest.ToDictionary(kv => kv.Value, kv => kv.Key);
    private readonly JsonSerializerOptions _json;

    public SyncSerializer(ExtendedActorSystem system) : base(system)
    {
        _json = new JsonSerializerOptions
        {
            Converters = { new ActorRefConverter(system) },
            NumberHandling = JsonNumberHandling.Strict,
        };
    }

    public override int Identifier => SerializerId;

    private static Dictionary<string, Type> BuildManifests() => new()
    {
        ["ev"] = typeof(EventEnvelope),
        ["created"] = typeof(ConversationEvents.Created),
        ["title"] = typeof(ConversationEvents.TitleChanged),
        ["key"] = typeof(ConversationEvents.KeyIssued),
        ["deleted"] = typeof(ConversationEvents.Deleted),
        ["upstream"] = typeof(ConversationEvents.UpstreamBound),
        ["snap"] = typeof(LegacyConversationSnapshot), // read only: state + the whole index, before long conversations
        ["state"] = typeof(ConversationSnapshot),
        ["seg"] = typeof(IndexSegment),
        ["c.create"] = typeof(ConversationCommands.Create),
        ["c.msg"] = typeof(ConversationCommands.SendMessage),
        ["c.run"] = typeof(ConversationCommands.Run),
        ["c.pause"] = typeof(ConversationCommands.Pause),
        ["c.confirm"] = typeof(ConversationCommands.RespondToConfirmation),
        ["c.append"] = typeof(ConversationCommands.AppendEvents),
        ["c.title"] = typeof(ConversationCommands.SetTitle),
        ["c.delete"] = typeof(ConversationCommands.Delete),
        ["c.v0action"] = typeof(ConversationCommands.SubmitUserAction),
        ["c.v0append"] = typeof(ConversationCommands.AppendV0Events),
        ["c.wake"] = typeof(UpstreamCommands.Wake),
        ["q.info"] = typeof(ConversationQueries.GetInfo),
        ["q.search"] = typeof(ConversationQueries.SearchEvents),
        ["q.count"] = typeof(ConversationQueries.CountEvents),
        ["q.event"] = typeof(ConversationQueries.GetEvent),
        ["q.auth"] = typeof(ConversationQueries.Authorize),
        ["r.cmd"] = typeof(ConversationReplies.CommandResult),
        ["r.create"] = typeof(ConversationReplies.CreateResult),
        ["r.append"] = typeof(ConversationReplies.AppendResult),
        ["r.info"] = typeof(ConversationReplies.InfoResult),
        ["r.page"] = typeof(ConversationReplies.EventPage),
        ["r.count"] = typeof(ConversationReplies.EventCount),
        ["r.event"] = typeof(ConversationReplies.EventResult),
        ["r.auth"] = typeof(ConversationReplies.AuthorizeResult),
        ["info"] = typeof(ConversationInfo),
        ["s.sub"] = typeof(ConversationSubscription.Subscribe),
        ["s.subd"] = typeof(ConversationSubscription.Subscribed),
        ["s.refused"] = typeof(ConversationSubscription.Refused),
        ["s.unsub"] = typeof(ConversationSubscription.Unsubscribe),
        ["s.read"] = typeof(ConversationSubscription.ReadRange),
        ["s.range"] = typeof(ConversationSubscription.EventRange),
        ["s.pub"] = typeof(ConversationSubscription.EventsPublished),
        ["s.ended"] = typeof(ConversationSubscription.Ended),
        ["s.resub"] = typeof(ConversationSubscription.Resubscribe),
        ["d.upsert"] = typeof(DirectoryCommands.Upsert),
        ["d.search"] = typeof(DirectoryQueries.Search),
        ["d.count"] = typeof(DirectoryQueries.Count),
        ["d.page"] = typeof(DirectoryQueries.Page),
        ["d.countr"] = typeof(DirectoryQueries.CountResult),
        ["d.followed"] = typeof(DirectoryQueries.Followed),
        ["d.followedr"] = typeof(DirectoryQueries.FollowedResult),
        ["d.snap"] = typeof(DirectorySnapshot),
        ["p.get"] = typeof(ClientPreferences.Get),
        ["p.merge"] = typeof(ClientPreferences.Merge),
        ["p.doc"] = typeof(ClientPreferences.Document),
        ["p.large"] = typeof(ClientPreferences.TooLarge),
    };

    /// <summary>Every type this serializer handles (the round-trip test walks this list).</summary>
    public static IReadOnlyCollection<Type> KnownTypes => ManifestsByType.Keys;

    public override string Manifest(object o) =>
        ManifestsByType.TryGetValue(o.GetType(), out var m)
            ? m
            : throw new ArgumentException($"{o.GetType()} is not bound to {nameof(SyncSerializer)}");

    public override byte[] ToBinary(object obj) => obj switch
    {
        EventEnvelope e => WriteEnvelope(e),
        IndexSegment s => s.Bytes, // already compact binary
        _ => JsonSerializer.SerializeToUtf8Bytes(obj, obj.GetType(), _json),
    };

    public override object FromBinary(byte[] bytes, string manifest)
    {
        if (!TypesByManifest.TryGetValue(manifest, out var type))
            throw new SerializationException($"Unknown manifest '{manifest}'");
        if (type == typeof(EventEnvelope)) return ReadEnvelope(bytes);
        if (type == typeof(IndexSegment)) return new IndexSegment(bytes);
        return JsonSerializer.Deserialize(bytes, type, _json) ?? throw new SerializationException($"null {manifest}");
    }

    private static byte[] WriteEnvelope(EventEnvelope e)
    {
        using var ms = new MemoryStream(e.Json.Length + 96);
        using (var w = new BinaryWriter(ms, Encoding.UTF8, leaveOpen: true))
        {
            w.Write(EnvelopeVersion);
            w.Write(e.ConversationId.Value.ToByteArray());
            w.Write(e.Seq);
            w.Write(e.Id);
            w.Write(e.Kind);
            w.Write(e.Source);
            w.Write(e.TimestampTicks);
            w.Write(e.Json.Length);
            w.Write(e.Json);
        }
        return ms.ToArray();
    }

    private static EventEnvelope ReadEnvelope(byte[] bytes)
    {
        using var r = new BinaryReader(new MemoryStream(bytes), Encoding.UTF8);
        var version = r.ReadByte();
        if (version != EnvelopeVersion) throw new SerializationException($"Unknown event envelope version {version}");
        var id = new ConversationId(new Guid(r.ReadBytes(16)));
        var seq = r.ReadInt64();
        var eventId = r.ReadString();
        var kind = r.ReadString();
        var source = r.ReadString();
        var ticks = r.ReadInt64();
        var json = r.ReadBytes(r.ReadInt32());
        return new EventEnvelope(id, seq, eventId, kind, source, ticks, json);
    }

    private sealed class ActorRefConverter(ExtendedActorSystem system) : JsonConverter<IActorRef>
    {
        public override IActorRef Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options) =>
            reader.GetString() is { } path ? system.Provider.ResolveActorRef(path) : ActorRefs.Nobody;

        public override void Write(Utf8JsonWriter writer, IActorRef value, JsonSerializerOptions options) =>
            writer.WriteStringValue(Akka.Serialization.Serialization.SerializedActorPath(value));
    }
}
