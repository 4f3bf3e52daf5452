using System.Buffers;
using System.Text.Json;
using Akka.Sync.Protocol.Codecs;

namespace Akka.Sync.Protocol.V1;

/// <summary>
/// Validates what producers send in V1: socket frames, REST message bodies and agent ingest batches.
/// Every rejection is a value with a human-readable detail; nothing here throws on bad input.
/// </summary>
public static class V1Inbound
{
    private static readonly JsonDocumentOptions DocOptions = new() { MaxDepth = 64 };
    private const int MaxKindLength = 200;

    /// <summary>Decodes one text frame from a V1 socket.</summary>
    public static ClientFrame ParseClientFrame(ReadOnlySpan<byte> utf8)
    {
        if (!JsonBatch.IsValidUtf8(utf8, out var utf8Error)) return new ClientFrame.Bad(utf8Error);
        JsonDocument doc;
        try
        {
            doc = JsonDocument.Parse(utf8.ToArray(), DocOptions);
        }
        catch (JsonException e)
        {
            return new ClientFrame.Bad($"invalid JSON: {Short(e.Message)}");
        }
        using (doc)
        {
            var root = doc.RootElement;
            if (root.ValueKind != JsonValueKind.Object)
                return new ClientFrame.Bad("expected a JSON object");
            if (root.TryGetProperty("type", out var type) && type.ValueKind == JsonValueKind.String
                && type.ValueEquals("auth"))
            {
                return root.TryGetProperty("session_api_key", out var key) && key.ValueKind == JsonValueKind.String
                    ? new ClientFrame.Auth(key.GetString()!)
                    : new ClientFrame.Bad("auth frame needs a string session_api_key");
            }
            return TryParseMessage(root, defaultRun: true, out var message, out var error)
                ? new ClientFrame.Message(message)
                : new ClientFrame.Bad(error);
        }
    }

    /// <summary>
    /// A message object <c>{"role":"user","content":[…],"run":bool?}</c> (socket frames run by default,
    /// <c>POST …/events</c> does not, as in OpenHands).
    /// </summary>
    public static bool TryParseMessage(JsonElement root, bool defaultRun, out UserMessage message, out string error)
    {
        message = null!;
        if (root.ValueKind != JsonValueKind.Object) { error = "expected a JSON object"; return false; }
        if (!root.TryGetProperty("role", out var role) || role.ValueKind != JsonValueKind.String)
        {
            error = "expected a message {\"role\":\"user\",\"content\":[…]}";
            return false;
        }
        if (!role.ValueEquals("user")) { error = "role must be \"user\""; return false; }
        if (!root.TryGetProperty("content", out var content)) { error = "content is required"; return false; }
        if (!TryNormalizeContent(content, out var contentJson, out error)) return false;
        var run = defaultRun;
        if (root.TryGetProperty("run", out var runElement))
        {
            if (runElement.ValueKind is not (JsonValueKind.True or JsonValueKind.False))
            {
                error = "run must be a boolean";
                return false;
            }
            run = runElement.GetBoolean();
        }
        message = new UserMessage(contentJson, run);
        error = "";
        return true;
    }

    /// <summary>
    /// Normalises a content array to the SDK's stored shapes: <c>{"cache_prompt","type":"text","text"}</c>
    /// and <c>{"cache_prompt","type":"image","image_urls":[…]}</c>. The frontend's
    /// <c>{"type":"image_url","image_url":{"url"}}</c> items are kept as image items, not dropped.
    /// </summary>
    public static bool TryNormalizeContent(JsonElement content, out byte[] json, out string error)
    {
        json = [];
        if (content.ValueKind != JsonValueKind.Array) { error = "content must be an array"; return false; }
        if (content.GetArrayLength() == 0) { error = "content must not be empty"; return false; }
        var buffer = new ArrayBufferWriter<byte>(256);
        using var w = new Utf8JsonWriter(buffer, V1Json.WriterOptions);
        w.WriteStartArray();
        var index = 0;
        foreach (var item in content.EnumerateArray())
        {
            if (!TryWriteContentItem(w, item, out var itemError))
            {
                error = $"content[{index}]: {itemError}";
                return false;
            }
            index++;
        }
        w.WriteEndArray();
        w.Flush();
        json = buffer.WrittenSpan.ToArray();
        error = "";
        return true;
    }

    private static bool TryWriteContentItem(Utf8JsonWriter w, JsonElement item, out string error)
    {
        error = "";
        if (item.ValueKind != JsonValueKind.Object
            || !item.TryGetProperty("type", out var type) || type.ValueKind != JsonValueKind.String)
        {
            error = "each item needs a string type";
            return false;
        }
        var cachePrompt = item.TryGetProperty("cache_prompt", out var cp) && cp.ValueKind == JsonValueKind.True;
        switch (type.GetString())
        {
            case "text":
                if (!item.TryGetProperty("text", out var text) || text.ValueKind != JsonValueKind.String)
                {
                    error = "a text item needs a string text";
                    return false;
                }
                w.WriteStartObject();
                w.WriteBoolean("cache_prompt"u8, cachePrompt);
                w.WriteString("type"u8, "text");
                w.WriteString("text"u8, text.GetString());
                w.WriteEndObject();
                return true;
            case "image_url":
                string? url = null;
                if (item.TryGetProperty("image_url", out var iu))
                {
                    if (iu.ValueKind == JsonValueKind.String) url = iu.GetString();
                    else if (iu.ValueKind == JsonValueKind.Object && iu.TryGetProperty("url", out var u)
                             && u.ValueKind == JsonValueKind.String) url = u.GetString();
                }
                if (string.IsNullOrEmpty(url))
                {
                    error = "an image_url item needs image_url.url";
                    return false;
                }
                WriteImage(w, cachePrompt, [url]);
                return true;
            case "image":
                if (!item.TryGetProperty("image_urls", out var urls) || urls.ValueKind != JsonValueKind.Array
                    || urls.GetArrayLength() == 0
                    || urls.EnumerateArray().Any(x => x.ValueKind != JsonValueKind.String))
                {
                    error = "an image item needs a non-empty string array image_urls";
                    return false;
                }
                WriteImage(w, cachePrompt, urls.EnumerateArray().Select(x => x.GetString()!).ToArray());
                return true;
            default:
                error = $"unknown content type '{Short(type.GetString() ?? "")}'";
                return false;
        }
    }

    private static void WriteImage(Utf8JsonWriter w, bool cachePrompt, string[] urls)
    {
        w.WriteStartObject();
        w.WriteBoolean("cache_prompt"u8, cachePrompt);
        w.WriteString("type"u8, "image");
        w.WriteStartArray("image_urls"u8);
        foreach (var u in urls) w.WriteStringValue(u);
        w.WriteEndArray();
        w.WriteEndObject();
    }

    /// <summary>
    /// Validates an agent ingest body: a JSON array of 1..<paramref name="maxBatch"/> V1 events, each
    /// with string <c>kind</c>, a valid <c>source</c> and an optional UUID <c>id</c>.
    /// </summary>
    public static bool TryParseIngestBatch(ReadOnlyMemory<byte> utf8, int maxBatch, out IncomingEvent[] events, out string error)
        => TryParseIngestBatch(utf8, maxBatch, out events, out error, out _);

    /// <summary>As above; <paramref name="tooMany"/> tells a batch over the size bound (413) from a bad one (400).
    /// Ids must also be unique within the batch.</summary>
    public static bool TryParseIngestBatch(ReadOnlyMemory<byte> utf8, int maxBatch, out IncomingEvent[] events, out string error, out bool tooMany)
        => TryParseIngestBatch(utf8, maxBatch, assignIds: false, out events, out error, out tooMany);

    /// <summary>As above; with <paramref name="assignIds"/> an event without an id gets a new one here (a random UUID, as
    /// the conversation would give it), instead of a copy of the parsed event with one.</summary>
    public static bool TryParseIngestBatch(ReadOnlyMemory<byte> utf8, int maxBatch, bool assignIds, out IncomingEvent[] events, out string error, out bool tooMany)
    {
        HashSet<string>? seenIds = null;
        return JsonBatch.TryParse(utf8, maxBatch, (JsonElement item, out IncomingEvent e, out string err) =>
        {
            if (!TryParseIncomingEvent(item, assignIds, out e, out var given, out err)) return false;
            if (!given || (seenIds ??= new HashSet<string>(StringComparer.Ordinal)).Add(e.Id!)) return true;
            err = $"id {e.Id} appears twice in the batch";
            return false;
        }, out events, out error, out tooMany);
    }

    public static bool TryParseIncomingEvent(JsonElement item, out IncomingEvent incoming, out string error) =>
        TryParseIncomingEvent(item, assignId: false, out incoming, out _, out error);

    /// <summary>As above; <paramref name="given"/> tells whether the event came with its own id.</summary>
    private static bool TryParseIncomingEvent(JsonElement item, bool assignId, out IncomingEvent incoming, out bool given, out string error)
    {
        given = false;
        incoming = null!;
        if (item.ValueKind != JsonValueKind.Object) { error = "expected an event object"; return false; }
        if (!item.TryGetProperty("kind", out var kind) || kind.ValueKind != JsonValueKind.String
            || kind.GetString() is not { Length: > 0 and <= MaxKindLength } kindText)
        {
            error = "kind must be a non-empty string";
            return false;
        }
        if (!item.TryGetProperty("source", out var source) || WireNames.Source(source) is not { } sourceText)
        {
            error = "source must be one of agent, user, environment";
            return false;
        }
        string? id = null;
        if (item.TryGetProperty("id", out var idElement) && idElement.ValueKind != JsonValueKind.Null)
        {
            if (idElement.ValueKind != JsonValueKind.String || !Guid.TryParse(idElement.GetString(), out var guid))
            {
                error = "id must be a UUID string";
                return false;
            }
            id = guid.ToString("D");
        }
        if (kindText == "ConversationStateUpdateEvent"
            && item.TryGetProperty("key", out var key) && key.ValueKind == JsonValueKind.String
            && key.ValueEquals("execution_status")
            && (!item.TryGetProperty("value", out var value) || value.ValueKind != JsonValueKind.String
                || !ExecutionStatusNames.TryParse(value.GetString(), out _)))
        {
            error = "execution_status value must be one of idle, running, paused, waiting_for_confirmation, finished, error, stuck";
            return false;
        }
        var body = V1Json.Write(item, static (w, item) =>
        {
            w.WriteStartObject();
            foreach (var p in item.EnumerateObject())
            {
                if (p.NameEquals("kind"u8) || p.NameEquals("id"u8) || p.NameEquals("timestamp"u8) || p.NameEquals("source"u8))
                    continue;
                p.WriteTo(w);
            }
            w.WriteEndObject();
        });
        given = id is not null;
        if (assignId) id ??= RandomIds.NewDashed();
        incoming = new IncomingEvent(WireNames.Intern(kindText), sourceText, id, body);
        error = "";
        return true;
    }

    private static string Short(string s) => s.Length <= 200 ? s : s[..200] + "…";
}
