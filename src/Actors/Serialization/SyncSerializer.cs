using System.Buffers.Binary;
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
    /// <summary>The manifest of an <see cref="EventBatch"/> (a journal row of several log entries).</summary>
    public const string BatchManifest = "evs";
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
        [BatchManifest] = typeof(EventBatch),
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
        EventBatch b => WriteBatch(b),
        IndexSegment s => s.Bytes, // already compact binary
        _ => JsonSerializer.SerializeToUtf8Bytes(obj, obj.GetType(), _json),
    };

    public override object FromBinary(byte[] bytes, string manifest)
    {
        if (!TypesByManifest.TryGetValue(manifest, out var type))
            throw new SerializationException($"Unknown manifest '{manifest}'");
        if (type == typeof(EventEnvelope)) return ReadEnvelope(bytes);
        if (type == typeof(EventBatch)) return ReadBatch(bytes);
        if (type == typeof(IndexSegment)) return new IndexSegment(bytes);
        return JsonSerializer.Deserialize(bytes, type, _json) ?? throw new SerializationException($"null {manifest}");
    }

    // Envelope layout (version 1): version byte, the conversation's 16 bytes, seq, then id, kind and source as
    // BinaryWriter strings (7-bit length prefix, UTF-8), the timestamp's ticks, the JSON's length and bytes. Written into
    // an array of the exact size (the journal keeps the array as the row's payload): no stream, no copy.

    private static byte[] WriteEnvelope(EventEnvelope e)
    {
        var bytes = new byte[1 + 16 + EntrySize(e)];
        var w = new SpanWriter(bytes);
        w.Byte(EnvelopeVersion);
        w.Guid(e.ConversationId.Value);
        w.Entry(e);
        return bytes;
    }

    private static EventEnvelope ReadEnvelope(byte[] bytes)
    {
        var r = new SpanReader(bytes);
        var version = r.Byte();
        if (version != EnvelopeVersion) throw new SerializationException($"Unknown event envelope version {version}");
        return r.Entry(new ConversationId(r.Guid()));
    }

    // Batch layout (version 1): version byte, the conversation's 16 bytes, the count (int32), then each event as an
    // envelope without its version and conversation.

    private static byte[] WriteBatch(EventBatch b)
    {
        var size = 1 + 16 + 4;
        foreach (var e in b.Events) size += EntrySize(e);
        var bytes = new byte[size];
        var w = new SpanWriter(bytes);
        w.Byte(EnvelopeVersion);
        w.Guid(b.Events.Length > 0 ? b.Events[0].ConversationId.Value : Guid.Empty);
        w.Int32(b.Events.Length);
        foreach (var e in b.Events) w.Entry(e);
        return bytes;
    }

    private static EventBatch ReadBatch(byte[] bytes) => ReadBatch(bytes, null);

    /// <summary>A batch row's entries, only those whose seq is <paramref name="wanted"/> (all when null); the others are skipped undecoded.</summary>
    internal static EventBatch ReadBatch(byte[] bytes, Func<long, bool>? wanted)
    {
        var r = new SpanReader(bytes);
        var version = r.Byte();
        if (version != EnvelopeVersion) throw new SerializationException($"Unknown event batch version {version}");
        var conversation = new ConversationId(r.Guid());
        var count = r.Int32();
        if (count < 0 || count > bytes.Length) throw new SerializationException("bad event batch count");
        if (wanted is null)
        {
            var all = new EventEnvelope[count];
            for (var i = 0; i < count; i++) all[i] = r.Entry(conversation);
            return new EventBatch(all);
        }
        var kept = new List<EventEnvelope>();
        for (var i = 0; i < count; i++)
            if (r.EntryIf(conversation, wanted) is { } e) kept.Add(e);
        return new EventBatch(kept.ToArray());
    }

    private static int EntrySize(EventEnvelope e) =>
        8 + StringSize(e.Id) + StringSize(e.Kind) + StringSize(e.Source) + 8 + 4 + e.Json.Length;

    private static int StringSize(string s)
    {
        var n = Encoding.UTF8.GetByteCount(s);
        return n + (n < 0x80 ? 1 : n < 0x4000 ? 2 : n < 0x200000 ? 3 : n < 0x10000000 ? 4 : 5);
    }

    private ref struct SpanWriter(Span<byte> span)
    {
        private readonly Span<byte> _span = span;
        private int _at;

        public void Byte(byte b) => _span[_at++] = b;

        public void Guid(Guid g)
        {
            g.TryWriteBytes(_span[_at..]);
            _at += 16;
        }

        public void Int32(int v)
        {
            BinaryPrimitives.WriteInt32LittleEndian(_span[_at..], v);
            _at += 4;
        }

        public void Int64(long v)
        {
            BinaryPrimitives.WriteInt64LittleEndian(_span[_at..], v);
            _at += 8;
        }

        public void String(string s)
        {
            var n = (uint)Encoding.UTF8.GetByteCount(s);
            while (n >= 0x80)
            {
                _span[_at++] = (byte)(n | 0x80);
                n >>= 7;
            }
            _span[_at++] = (byte)n;
            _at += Encoding.UTF8.GetBytes(s, _span[_at..]);
        }

        public void Entry(EventEnvelope e)
        {
            Int64(e.Seq);
            String(e.Id);
            String(e.Kind);
            String(e.Source);
            Int64(e.TimestampTicks);
            Int32(e.Json.Length);
            e.Json.CopyTo(_span[_at..]);
            _at += e.Json.Length;
        }
    }

    private ref struct SpanReader(ReadOnlySpan<byte> span)
    {
        private readonly ReadOnlySpan<byte> _span = span;
        private int _at;

        public byte Byte() => _span[_at++];

        public Guid Guid()
        {
            var g = new Guid(_span.Slice(_at, 16));
            _at += 16;
            return g;
        }

        public int Int32()
        {
            var v = BinaryPrimitives.ReadInt32LittleEndian(_span[_at..]);
            _at += 4;
            return v;
        }

        public long Int64()
        {
            var v = BinaryPrimitives.ReadInt64LittleEndian(_span[_at..]);
            _at += 8;
            return v;
        }

        public string String()
        {
            var n = StringLength();
            var s = Encoding.UTF8.GetString(_span.Slice(_at, n));
            _at += n;
            return s;
        }

        /// <summary>The next entry when its seq is wanted; otherwise skips it and returns null.</summary>
        public EventEnvelope? EntryIf(ConversationId conversation, Func<long, bool> wanted)
        {
            var seq = BinaryPrimitives.ReadInt64LittleEndian(_span[_at..]);
            if (wanted(seq)) return Entry(conversation);
            _at += 8;
            for (var i = 0; i < 3; i++) // id, kind, source
            {
                var n = StringLength(); // (advances past the length prefix first)
                _at += n;
            }
            _at += 8;
            var length = Int32();
            if (length < 0 || length > _span.Length - _at) throw new SerializationException("bad event length");
            _at += length;
            return null;
        }

        private int StringLength()
        {
            var n = 0;
            for (var shift = 0; ; shift += 7)
            {
                if (shift > 28) throw new SerializationException("bad string length");
                var b = _span[_at++];
                n |= (b & 0x7F) << shift;
                if (b < 0x80) break;
            }
            if (n < 0 || n > _span.Length - _at) throw new SerializationException("bad string length");
            return n;
        }

        public EventEnvelope Entry(ConversationId conversation)
        {
            var seq = Int64();
            var id = String();
            var kind = WireNames.Intern(String());
            var source = WireNames.Source(String());
            var ticks = Int64();
            var length = Int32();
            if (length < 0 || length > _span.Length - _at) throw new SerializationException("bad event length");
            var json = _span.Slice(_at, length).ToArray();
            _at += length;
            return new EventEnvelope(conversation, seq, id, kind, source, ticks, json);
        }
    }

    private sealed class ActorRefConverter(ExtendedActorSystem system) : JsonConverter<IActorRef>
    {
        public override IActorRef Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options) =>
            reader.GetString() is { } path ? system.Provider.ResolveActorRef(path) : ActorRefs.Nobody;

        public override void Write(Utf8JsonWriter writer, IActorRef value, JsonSerializerOptions options) =>
            writer.WriteStringValue(Akka.Serialization.Serialization.SerializedActorPath(value));
    }
}
