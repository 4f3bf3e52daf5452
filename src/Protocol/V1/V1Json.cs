using System.Buffers;
using System.Text.Encodings.Web;
using System.Text.Json;

namespace Akka.Sync.Protocol.V1;

/// <summary>
/// Writes the V1 (OpenHands agent-server) event JSON. Every event is
/// <c>{"kind","id","timestamp","source", …its own fields}</c>; the own fields come in as a JSON object
/// (<c>body</c>) and are spliced in without re-parsing.
/// </summary>
public static class V1Json
{
    public static readonly JsonWriterOptions WriterOptions = new()
    {
        Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
        Indented = false,
        SkipValidation = false,
    };

    public static readonly byte[] EmptyBody = "{}"u8.ToArray();

    /// <summary>Builds one event's wire JSON from its base fields and its body object.</summary>
    public static byte[] Compose(string kind, string id, string timestamp, string source, ReadOnlySpan<byte> body) =>
        Compose(kind, id, timestamp.AsSpan(), source, body);

    /// <summary>As above with the timestamp as ticks (<see cref="WireTime"/>), formatted straight into the JSON: the
    /// string per stamped event was ~3 % of the bytes an ingest request allocated (bench/NOTES.md, "Issue 15, thirteenth sitting").</summary>
    public static byte[] Compose(string kind, string id, long timestampTicks, string source, ReadOnlySpan<byte> body)
    {
        Span<char> timestamp = stackalloc char[WireTime.Length];
        WireTime.Write(timestampTicks, timestamp);
        return Compose(kind, id, timestamp, source, body);
    }

    private static byte[] Compose(string kind, string id, ReadOnlySpan<char> timestamp, string source, ReadOnlySpan<byte> body)
    {
        var (buffer, w, pooled) = Rent();
        try
        {
            w.WriteStartObject();
            w.WriteString("kind"u8, kind);
            w.WriteString("id"u8, id);
            w.WriteString("timestamp"u8, timestamp);
            w.WriteString("source"u8, source);
            w.Flush();
            return JsonBatch.Splice(buffer.WrittenSpan, body);
        }
        finally
        {
            Return(buffer, w, pooled);
        }
    }

    /// <summary>Runs <paramref name="write"/> on a JSON writer and returns exactly what it wrote.</summary>
    public static byte[] Write(Action<Utf8JsonWriter> write)
    {
        var (buffer, w, pooled) = Rent();
        try
        {
            write(w);
            w.Flush();
            return buffer.WrittenSpan.ToArray();
        }
        finally
        {
            Return(buffer, w, pooled);
        }
    }

    /// <summary>As above, with <paramref name="state"/> passed to a static <paramref name="write"/>: no closure per call
    /// (parsing an ingested event wrote its body through one; bench/NOTES.md, "Issue 15, thirteenth sitting").</summary>
    public static byte[] Write<TState>(TState state, Action<Utf8JsonWriter, TState> write)
    {
        var (buffer, w, pooled) = Rent();
        try
        {
            write(w, state);
            w.Flush();
            return buffer.WrittenSpan.ToArray();
        }
        finally
        {
            Return(buffer, w, pooled);
        }
    }

    // One writer and buffer per thread, reused: every ingested event is written twice (its body, then its wire JSON),
    // and a fresh ArrayBufferWriter and Utf8JsonWriter for each were a good part of what a write allocated. A call
    // made while the thread's pair is in use (a write inside a write) gets a pair of its own.
    [ThreadStatic] private static ArrayBufferWriter<byte>? t_buffer;
    [ThreadStatic] private static Utf8JsonWriter? t_writer;
    [ThreadStatic] private static bool t_inUse;
    private const int KeepBufferBytes = 64 * 1024; // a larger buffer is dropped after use, not kept by the thread

    private static (ArrayBufferWriter<byte> Buffer, Utf8JsonWriter Writer, bool Pooled) Rent()
    {
        if (t_inUse)
        {
            var own = new ArrayBufferWriter<byte>(256);
            return (own, new Utf8JsonWriter(own, WriterOptions), false);
        }
        t_inUse = true;
        var buffer = t_buffer ??= new ArrayBufferWriter<byte>(1024);
        buffer.ResetWrittenCount();
        var w = t_writer ??= new Utf8JsonWriter(buffer, WriterOptions);
        w.Reset(buffer);
        return (buffer, w, true);
    }

    private static void Return(ArrayBufferWriter<byte> buffer, Utf8JsonWriter w, bool pooled)
    {
        if (!pooled)
        {
            w.Dispose();
            return;
        }
        w.Reset();
        if (buffer.Capacity > KeepBufferBytes)
        {
            t_buffer = null;
            t_writer = null;
        }
        t_inUse = false;
    }

    /// <summary>Body of a user or agent <c>MessageEvent</c> with the given content array.</summary>
    public static byte[] MessageBody(string role, ReadOnlySpan<byte> contentJson)
    {
        var content = contentJson.ToArray();
        return Write(w =>
        {
            w.WriteStartObject();
            w.WriteStartObject("llm_message"u8);
            w.WriteString("role"u8, role);
            w.WritePropertyName("content"u8);
            w.WriteRawValue(content, skipInputValidation: true);
            w.WriteBoolean("cache_enabled"u8, false);
            w.WriteBoolean("vision_enabled"u8, false);
            w.WriteBoolean("function_calling_enabled"u8, false);
            w.WriteNull("tool_calls"u8);
            w.WriteNull("tool_call_id"u8);
            w.WriteNull("name"u8);
            w.WriteBoolean("force_string_serializer"u8, false);
            w.WriteBoolean("send_reasoning_content"u8, false);
            w.WriteNull("reasoning_content"u8);
            w.WriteStartArray("thinking_blocks"u8);
            w.WriteEndArray();
            w.WriteNull("responses_reasoning_item"u8);
            w.WriteEndObject();
            w.WriteNull("llm_response_id"u8);
            w.WriteStartArray("activated_skills"u8);
            w.WriteEndArray();
            w.WriteStartArray("extended_content"u8);
            w.WriteEndArray();
            w.WriteNull("sender"u8);
            w.WriteEndObject();
        });
    }

    /// <summary>A content array holding one text item, in the SDK's stored shape.</summary>
    public static byte[] TextContent(string text) => Write(w =>
    {
        w.WriteStartArray();
        w.WriteStartObject();
        w.WriteBoolean("cache_prompt"u8, false);
        w.WriteString("type"u8, "text");
        w.WriteString("text"u8, text);
        w.WriteEndObject();
        w.WriteEndArray();
    });

    public static byte[] StateUpdateBody(string key, string value) => Write(w =>
    {
        w.WriteStartObject();
        w.WriteString("key"u8, key);
        w.WriteString("value"u8, value);
        w.WriteEndObject();
    });

    public static byte[] UserRejectBody(string? toolName, string? toolCallId, string reason, string actionId) => Write(w =>
    {
        w.WriteStartObject();
        w.WriteString("tool_name"u8, toolName ?? "");
        w.WriteString("tool_call_id"u8, toolCallId ?? "");
        w.WriteString("rejection_reason"u8, reason);
        w.WriteString("action_id"u8, actionId);
        w.WriteEndObject();
    });

    /// <summary>
    /// The <c>ConversationStateUpdateEvent{key:"full_state"}</c> each socket gets first. Not stored.
    /// </summary>
    public static byte[] FullState(ConversationInfo info, DateTime nowUtc) =>
        Compose("ConversationStateUpdateEvent", RandomIds.NewDashed(), WireTime.ToWire(nowUtc),
            EventSources.Environment, Write(w =>
            {
                w.WriteStartObject();
                w.WriteString("key"u8, "full_state");
                w.WriteStartObject("value"u8);
                WriteInfoFields(w, info);
                w.WriteEndObject();
                w.WriteEndObject();
            }));

    /// <summary>The fields shared by full_state and the REST ConversationInfo.</summary>
    public static void WriteInfoFields(Utf8JsonWriter w, ConversationInfo info)
    {
        w.WriteString("id"u8, info.ConversationId.Hex);
        w.WriteString("execution_status"u8, info.Status.ToWire());
        if (info.Title is null) w.WriteNull("title"u8); else w.WriteString("title"u8, info.Title);
        w.WriteString("created_at"u8, WireTime.ToWire(info.CreatedTicks));
        w.WriteString("updated_at"u8, WireTime.ToWire(info.UpdatedTicks));
        w.WriteString("protocol"u8, info.Dialect.ToWire());
        if (info.AgentState is { } agentState) w.WriteString("agent_state"u8, V0.AgentStateNames.ToWire(agentState));
        w.WriteNumber("event_count"u8, info.EventCount);
        if (info.Upstream is { } upstream) UpstreamEvents.WriteView(w, upstream);
    }

    /// <summary>
    /// The error frame a socket gets for a frame it sent that the server cannot use. Not stored.
    /// </summary>
    public static byte[] ErrorFrame(string code, string detail, DateTime nowUtc) =>
        Compose("ConversationErrorEvent", RandomIds.NewDashed(), WireTime.ToWire(nowUtc),
            EventSources.Environment, Write(w =>
            {
                w.WriteStartObject();
                w.WriteString("code"u8, code);
                w.WriteString("detail"u8, detail);
                w.WriteEndObject();
            }));
}
