using System.Text.Json;
using Akka.Sync.Protocol.V1;

namespace Akka.Sync.Protocol;

/// <summary>
/// An event read from an upstream agent server, ready to store as it came: its upstream <see cref="Id"/>, kind and
/// source, its upstream timestamp (UTC ticks, whole microseconds; null when it had none that parses) and every other
/// field as a JSON object (<see cref="Body"/>), in the upstream's order.
/// </summary>
public sealed record FollowedEvent(string Id, string Kind, string Source, long? TimestampTicks, byte[] Body);

public enum UpstreamFrameKind
{
    /// <summary>A log event: stored.</summary>
    Event,
    /// <summary><c>ConversationStateUpdateEvent{key:"full_state"}</c>: the subscription is in place (not stored upstream either).</summary>
    State,
    /// <summary>Sent to sockets and never stored upstream (token deltas, an error about a frame): not stored here.</summary>
    Transient,
    /// <summary>Not an event this server can store (no UUID id, no kind or source).</summary>
    Invalid,
}

/// <summary>Reads what an upstream agent server sends (socket frames and <c>events/search</c> items) and writes a binding's view.</summary>
public static class UpstreamEvents
{
    private const int MaxNameLength = 200;

    /// <summary>Kinds agent-server publishes to sockets without storing them (event_service.py, sockets.py).</summary>
    private static readonly HashSet<string> TransientKinds = new(StringComparer.Ordinal) { "StreamingDeltaEvent", "ServerErrorEvent" };

    public static UpstreamFrameKind Classify(ReadOnlySpan<byte> utf8, out FollowedEvent? followed, out string error)
    {
        followed = null;
        try
        {
            var reader = new Utf8JsonReader(utf8, new JsonReaderOptions { MaxDepth = 128 });
            using var doc = JsonDocument.ParseValue(ref reader);
            return Classify(doc.RootElement, out followed, out error);
        }
        catch (JsonException e)
        {
            error = "invalid JSON: " + e.Message;
            return UpstreamFrameKind.Invalid;
        }
    }

    public static UpstreamFrameKind Classify(JsonElement e, out FollowedEvent? followed, out string error)
    {
        followed = null;
        error = "";
        if (e.ValueKind != JsonValueKind.Object) { error = "not a JSON object"; return UpstreamFrameKind.Invalid; }
        var kind = String(e, "kind");
        if (kind == "ConversationStateUpdateEvent" && String(e, "key") == "full_state") return UpstreamFrameKind.State;
        if (kind is not null && TransientKinds.Contains(kind)) return UpstreamFrameKind.Transient;
        return TryParse(e, out followed, out error) ? UpstreamFrameKind.Event : UpstreamFrameKind.Invalid;
    }

    /// <summary>
    /// An upstream event: <c>id</c> a UUID (kept, as the dedupe key), <c>kind</c> and <c>source</c> non-empty strings
    /// (agent-server has sources beyond ours, e.g. <c>hook</c>: they are stored as they came), the rest as it is.
    /// </summary>
    public static bool TryParse(JsonElement e, out FollowedEvent? followed, out string error)
    {
        followed = null;
        if (String(e, "kind") is not { Length: > 0 and <= MaxNameLength } kind) { error = "kind must be a non-empty string"; return false; }
        if (String(e, "source") is not { Length: > 0 and <= MaxNameLength } source) { error = "source must be a non-empty string"; return false; }
        if (String(e, "id") is not { } idText || !Guid.TryParse(idText, out var id)) { error = "id must be a UUID"; return false; }
        long? ticks = WireTime.TryParse(String(e, "timestamp"), out var at) ? WireTime.TruncateToMicros(at).Ticks : null;
        var body = V1Json.Write(w =>
        {
            w.WriteStartObject();
            foreach (var p in e.EnumerateObject())
            {
                if (p.NameEquals("kind") || p.NameEquals("id") || p.NameEquals("timestamp") || p.NameEquals("source")) continue;
                p.WriteTo(w);
            }
            w.WriteEndObject();
        });
        followed = new FollowedEvent(id.ToString("D"), kind, source, ticks, body);
        error = "";
        return true;
    }

    /// <summary>The <c>upstream</c> object of a ConversationInfo: where it follows, and the link's status when known.</summary>
    public static void WriteView(Utf8JsonWriter w, UpstreamView view)
    {
        w.WriteStartObject("upstream"u8);
        w.WriteString("url"u8, view.Url);
        w.WriteString("conversation_id"u8, view.ConversationId);
        if (view.Link is { } link)
        {
            w.WriteString("state"u8, link.State);
            w.WriteBoolean("connected"u8, link.Connected);
            w.WriteNumber("lag_events"u8, link.LagEvents);
            w.WriteNumber("lag_seconds"u8, Math.Round(link.LagSeconds, 3));
            w.WriteNumber("reconnects"u8, link.Reconnects);
            w.WriteNumber("events_followed"u8, link.EventsFollowed);
            if (link.LastEventId is null) w.WriteNull("last_event_id"u8); else w.WriteString("last_event_id"u8, link.LastEventId);
            if (link.LastError is null) w.WriteNull("last_error"u8); else w.WriteString("last_error"u8, link.LastError);
        }
        w.WriteEndObject();
    }

    private static string? String(JsonElement e, string name) =>
        e.TryGetProperty(name, out var p) && p.ValueKind == JsonValueKind.String ? p.GetString() : null;
}
