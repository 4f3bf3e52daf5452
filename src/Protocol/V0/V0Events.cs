using System.Buffers;
using System.Text;
using System.Text.Json;
using Akka.Sync.Protocol.V1;

namespace Akka.Sync.Protocol.V0;

/// <summary>
/// A V0 event offered by a producer (agent ingest or a socket's <c>oh_user_action</c>), validated.
/// <see cref="Body"/> holds, in <c>event_to_dict</c> order, everything after the type:
/// <c>tool_call_metadata? llm_metrics?</c> then <c>args (+timeout)</c> or <c>content extras (+success)</c>.
/// </summary>
public sealed record V0Incoming(bool IsAction, string Type, string Source, string Message, long? Cause, byte[] Body)
{
    /// <summary>The log's kind for this event: <c>action:message</c>, <c>observation:run</c>, …</summary>
    public string Kind => V0Json.KindOf(IsAction, Type);
}

/// <summary>
/// The V0 event JSON exactly as OpenHands <c>event_to_dict</c> writes it: keys <c>id, timestamp, source,
/// message, cause?, action|observation, tool_call_metadata?, llm_metrics?</c>, then <c>args</c> or
/// <c>content</c> + <c>extras</c>; ids are the integer seq.
/// </summary>
public static class V0Json
{
    private static readonly JsonDocumentOptions DocOptions = new() { MaxDepth = 64 };

    public static string KindOf(bool isAction, string type) => (isAction ? "action:" : "observation:") + type;

    public static bool IsAction(string kind) => kind.StartsWith("action:", StringComparison.Ordinal);

    public static string TypeOf(string kind) => kind[(kind.IndexOf(':') + 1)..];

    /// <summary>Writes a stored V0 event from its stamped parts.</summary>
    public static byte[] Compose(long id, string timestamp, V0Incoming e)
    {
        var buffer = new ArrayBufferWriter<byte>(e.Body.Length + 160);
        using (var w = new Utf8JsonWriter(buffer, V1Json.WriterOptions))
        {
            w.WriteStartObject();
            w.WriteNumber("id"u8, id);
            w.WriteString("timestamp"u8, timestamp);
            w.WriteString("source"u8, e.Source);
            w.WriteString("message"u8, e.Message);
            if (e.Cause is { } cause) w.WriteNumber("cause"u8, cause);
            w.WriteString(e.IsAction ? "action"u8 : "observation"u8, e.Type);
            w.Flush();
        }
        return JsonBatch.Splice(buffer.WrittenSpan, e.Body);
    }

    /// <summary>
    /// Validates one V0 event. <paramref name="forcedSource"/> (socket actions are always <c>user</c>) replaces
    /// the event's own source; otherwise a valid <c>source</c> is required.
    /// </summary>
    public static bool TryParse(JsonElement item, string? forcedSource, out V0Incoming incoming, out string error)
    {
        incoming = null!;
        if (item.ValueKind != JsonValueKind.Object) { error = "expected an event object"; return false; }
        var hasAction = item.TryGetProperty("action", out var action);
        var hasObservation = item.TryGetProperty("observation", out var observation);
        if (hasAction == hasObservation) { error = "an event needs exactly one of action or observation"; return false; }
        var typeElement = hasAction ? action : observation;
        if (typeElement.ValueKind != JsonValueKind.String || typeElement.GetString() is not { Length: > 0 and <= 100 } type)
        {
            error = (hasAction ? "action" : "observation") + " must be a non-empty string";
            return false;
        }
        var source = forcedSource;
        if (source is null)
        {
            if (!item.TryGetProperty("source", out var s) || s.ValueKind != JsonValueKind.String || !EventSources.IsValid(s.GetString()))
            {
                error = "source must be one of agent, user, environment";
                return false;
            }
            source = s.GetString()!;
        }
        long? cause = null;
        if (item.TryGetProperty("cause", out var c) && c.ValueKind != JsonValueKind.Null)
        {
            if (c.ValueKind != JsonValueKind.Number || !c.TryGetInt64(out var causeId)) { error = "cause must be an integer event id"; return false; }
            cause = causeId;
        }
        string? message = null;
        if (item.TryGetProperty("message", out var m) && m.ValueKind != JsonValueKind.Null)
        {
            if (m.ValueKind != JsonValueKind.String) { error = "message must be a string"; return false; }
            message = m.GetString();
        }
        foreach (var name in new[] { "tool_call_metadata", "llm_metrics" })
        {
            if (item.TryGetProperty(name, out var o) && o.ValueKind is not (JsonValueKind.Object or JsonValueKind.Null))
            {
                error = $"{name} must be an object";
                return false;
            }
        }

        var ok = hasAction
            ? TryActionBody(item, type, ref message, out var body, out error)
            : TryObservationBody(item, type, out body, out error);
        if (!ok) return false;
        incoming = new V0Incoming(hasAction, type, source, message ?? "", cause, body);
        return true;
    }

    private static bool TryActionBody(JsonElement item, string type, ref string? message, out byte[] body, out string error)
    {
        body = [];
        JsonElement args = default;
        var hasArgs = item.TryGetProperty("args", out args) && args.ValueKind != JsonValueKind.Null;
        if (hasArgs && args.ValueKind != JsonValueKind.Object) { error = "args must be an object"; return false; }
        if (item.TryGetProperty("timeout", out var timeout) && timeout.ValueKind is not (JsonValueKind.Number or JsonValueKind.Null))
        {
            error = "timeout must be a number";
            return false;
        }
        var fields = new List<(string Name, Action<Utf8JsonWriter> Write)>();
        switch (type)
        {
            case "message":
                if (!hasArgs || !args.TryGetProperty("content", out var content) || content.ValueKind != JsonValueKind.String)
                {
                    error = "a message action needs args.content (a string)";
                    return false;
                }
                message ??= content.GetString();
                break;
            case "change_agent_state":
                if (!hasArgs || !args.TryGetProperty("agent_state", out var state) || state.ValueKind != JsonValueKind.String
                    || !AgentStateNames.TryParse(state.GetString(), out _))
                {
                    error = "change_agent_state needs args.agent_state, one of " + string.Join(", ", Enum.GetValues<AgentState>().Select(s => s.ToWire()));
                    return false;
                }
                message ??= "Agent state changed to " + state.GetString();
                break;
        }
        body = V1Json.Write(w =>
        {
            w.WriteStartObject();
            WriteOptional(w, item, "tool_call_metadata");
            WriteOptional(w, item, "llm_metrics");
            w.WriteStartObject("args"u8);
            WriteArgs(w, type, hasArgs ? args : null);
            w.WriteEndObject();
            if (item.TryGetProperty("timeout", out var t) && t.ValueKind == JsonValueKind.Number)
            {
                w.WritePropertyName("timeout"u8);
                t.WriteTo(w);
            }
            w.WriteEndObject();
        });
        error = "";
        return true;
    }

    /// <summary>
    /// Action args as OpenHands stores them: <c>args.timestamp</c> dropped, <c>images_urls</c> renamed, and the
    /// defaults of <c>MessageAction</c> / <c>ChangeAgentStateAction</c> filled in.
    /// </summary>
    private static void WriteArgs(Utf8JsonWriter w, string type, JsonElement? args)
    {
        var written = new HashSet<string>(StringComparer.Ordinal);
        if (args is { } a)
        {
            foreach (var p in a.EnumerateObject())
            {
                if (p.NameEquals("timestamp")) continue;
                var name = p.NameEquals("images_urls") ? "image_urls" : p.Name;
                if (!written.Add(name)) continue;
                w.WritePropertyName(name);
                p.Value.WriteTo(w);
            }
        }
        switch (type)
        {
            case "message":
                if (written.Add("file_urls")) { w.WriteStartArray("file_urls"u8); w.WriteEndArray(); }
                if (written.Add("image_urls")) { w.WriteStartArray("image_urls"u8); w.WriteEndArray(); }
                if (written.Add("wait_for_response")) w.WriteBoolean("wait_for_response"u8, false);
                if (written.Add("security_risk")) w.WriteNumber("security_risk"u8, -1);
                break;
            case "change_agent_state":
                if (written.Add("thought")) w.WriteString("thought"u8, "");
                break;
        }
    }

    private static bool TryObservationBody(JsonElement item, string type, out byte[] body, out string error)
    {
        body = [];
        var content = "";
        if (item.TryGetProperty("content", out var c) && c.ValueKind != JsonValueKind.Null)
        {
            if (c.ValueKind != JsonValueKind.String) { error = "content must be a string"; return false; }
            content = c.GetString()!;
        }
        var hasExtras = item.TryGetProperty("extras", out var extras) && extras.ValueKind != JsonValueKind.Null;
        if (hasExtras && extras.ValueKind != JsonValueKind.Object) { error = "extras must be an object"; return false; }
        if (type == "agent_state_changed"
            && (!hasExtras || !extras.TryGetProperty("agent_state", out var s) || s.ValueKind != JsonValueKind.String
                || !AgentStateNames.TryParse(s.GetString(), out _)))
        {
            error = "agent_state_changed needs extras.agent_state, one of " + string.Join(", ", Enum.GetValues<AgentState>().Select(x => x.ToWire()));
            return false;
        }
        if (item.TryGetProperty("success", out var success) && success.ValueKind is not (JsonValueKind.True or JsonValueKind.False or JsonValueKind.Null))
        {
            error = "success must be a boolean";
            return false;
        }
        body = V1Json.Write(w =>
        {
            w.WriteStartObject();
            WriteOptional(w, item, "tool_call_metadata");
            WriteOptional(w, item, "llm_metrics");
            w.WriteString("content"u8, content);
            w.WritePropertyName("extras"u8);
            if (hasExtras) extras.WriteTo(w);
            else { w.WriteStartObject(); w.WriteEndObject(); }
            if (item.TryGetProperty("success", out var sc) && sc.ValueKind is JsonValueKind.True or JsonValueKind.False)
                w.WriteBoolean("success"u8, sc.GetBoolean());
            w.WriteEndObject();
        });
        error = "";
        return true;
    }

    private static void WriteOptional(Utf8JsonWriter w, JsonElement item, string name)
    {
        if (item.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.Object)
        {
            w.WritePropertyName(name);
            v.WriteTo(w);
        }
    }

    // ---- built-in events ----

    /// <summary><c>ChangeAgentStateAction</c> as a client's request is stored.</summary>
    public static V0Incoming ChangeAgentState(AgentState state, string source = EventSources.User) =>
        new(true, "change_agent_state", source, "Agent state changed to " + state.ToWire(), null, V1Json.Write(w =>
        {
            w.WriteStartObject();
            w.WriteStartObject("args"u8);
            w.WriteString("agent_state"u8, state.ToWire());
            w.WriteString("thought"u8, "");
            w.WriteEndObject();
            w.WriteEndObject();
        }));

    /// <summary><c>AgentStateChangedObservation</c>, stored with source environment.</summary>
    public static V0Incoming AgentStateChanged(AgentState state, string reason = "") =>
        new(false, "agent_state_changed", EventSources.Environment, "", null, V1Json.Write(w =>
        {
            w.WriteStartObject();
            w.WriteString("content"u8, "");
            w.WriteStartObject("extras"u8);
            w.WriteString("agent_state"u8, state.ToWire());
            w.WriteString("reason"u8, reason);
            w.WriteEndObject();
            w.WriteEndObject();
        }));

    /// <summary>An agent ingest body for a V0 conversation: a JSON array of 1..max V0 events.</summary>
    public static bool TryParseBatch(ReadOnlyMemory<byte> utf8, int maxBatch, out V0Incoming[] events, out string error, out bool tooMany) =>
        JsonBatch.TryParse(utf8, maxBatch, (JsonElement item, out V0Incoming e, out string err) => TryParse(item, null, out e, out err),
            out events, out error, out tooMany);

    /// <summary>Whether a batch looks like V0 (its first item has action or observation rather than kind).</summary>
    /// <remarks>
    /// Reads only up to the end of the first item, with a reader over the body: it runs on every ingest request, and a
    /// whole <see cref="JsonDocument"/> of the body (as it once built) was ~2 % of the server's CPU under load. The batch
    /// parser that follows validates the whole body either way (<see cref="JsonBatch"/>, the same for both dialects).
    /// </remarks>
    public static bool LooksLikeV0Batch(ReadOnlySpan<byte> utf8)
    {
        var reader = new Utf8JsonReader(utf8, new JsonReaderOptions { MaxDepth = DocOptions.MaxDepth });
        try
        {
            if (!reader.Read() || reader.TokenType != JsonTokenType.StartArray) return false;
            if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject) return false;
            var v0 = false;
            while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
            {
                if (reader.ValueTextEquals("kind"u8)) return false;
                if (reader.ValueTextEquals("action"u8) || reader.ValueTextEquals("observation"u8)) v0 = true;
                if (!reader.Read()) return false;
                reader.Skip();
            }
            return v0 && reader.TokenType == JsonTokenType.EndObject;
        }
        catch (JsonException)
        {
            return false;
        }
    }

    /// <summary>The state a validated <c>change_agent_state</c> action asks for.</summary>
    public static AgentState? RequestedAgentState(V0Incoming action)
    {
        if (!action.IsAction || action.Type != "change_agent_state") return null;
        using var doc = JsonDocument.Parse(action.Body);
        return doc.RootElement.TryGetProperty("args", out var args) && args.TryGetProperty("agent_state", out var s)
               && AgentStateNames.TryParse(s.GetString(), out var state)
            ? state
            : null;
    }

    /// <summary>A user <c>MessageAction</c> with the given text (e.g. a conversation's initial message).</summary>
    public static V0Incoming UserMessage(string text)
    {
        var json = JsonSerializer.Serialize(new { action = "message", args = new { content = text } });
        using var doc = JsonDocument.Parse(json);
        return TryParse(doc.RootElement, EventSources.User, out var e, out var error) ? e : throw new InvalidOperationException(error);
    }

    // ---- replay and live rules ----

    /// <summary>Replay skips <c>null</c> actions and observations and <c>recall</c> actions.</summary>
    public static bool SkippedInReplay(string kind) =>
        kind is "action:null" or "observation:null" or "action:recall";

    /// <summary>Replay holds back every <c>agent_state_changed</c> and sends only the last one, last.</summary>
    public static bool HeldBackInReplay(string kind) => kind == "observation:agent_state_changed";

    /// <summary>
    /// Live, OpenHands relabels environment <c>run</c>, <c>agent_state_changed</c> and <c>recall</c> observations
    /// and every <c>error</c> observation as <c>source:"agent"</c>.
    /// </summary>
    public static bool RelabelledLive(string kind, string source) =>
        kind == "observation:error"
        || source == EventSources.Environment && kind is "observation:run" or "observation:agent_state_changed" or "observation:recall";

    private static readonly byte[] SourceKey = "\"source\":\""u8.ToArray();

    /// <summary>
    /// The live copy with <c>source:"agent"</c>. <c>source</c> is the third top-level key, after the integer id and
    /// the timestamp, so the first <c>"source":"</c> in the bytes is always the event's own.
    /// </summary>
    public static byte[] WithAgentSource(byte[] json)
    {
        var key = json.AsSpan().IndexOf(SourceKey);
        if (key < 0) return json;
        var valueStart = key + SourceKey.Length;
        var valueLength = json.AsSpan(valueStart).IndexOf((byte)'"');
        if (valueLength < 0) return json;
        var agent = "agent"u8;
        var result = new byte[json.Length - valueLength + agent.Length];
        json.AsSpan(0, valueStart).CopyTo(result);
        agent.CopyTo(result.AsSpan(valueStart));
        json.AsSpan(valueStart + valueLength).CopyTo(result.AsSpan(valueStart + agent.Length));
        return result;
    }

    /// <summary>Reads the agent state out of a stored <c>agent_state_changed</c> observation.</summary>
    public static AgentState? AgentStateOf(string kind, ReadOnlySpan<byte> json)
    {
        if (kind != "observation:agent_state_changed") return null;
        var reader = new Utf8JsonReader(json);
        using var doc = JsonDocument.ParseValue(ref reader);
        return doc.RootElement.TryGetProperty("extras", out var extras) && extras.TryGetProperty("agent_state", out var s)
               && AgentStateNames.TryParse(s.GetString(), out var state)
            ? state
            : null;
    }

    public static JsonDocument Parse(ReadOnlySpan<byte> utf8) => JsonDocument.Parse(utf8.ToArray(), DocOptions);
}
