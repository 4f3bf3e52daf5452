using System.Buffers;
using System.Net.WebSockets;
using System.Text.Encodings.Web;
using System.Text.Json;
using System.Threading.Channels;

// The bare Kestrel WebSocket broadcast server: no actors, no persistence. Events live in memory, each is serialised
// once, and every socket has one bounded channel and one send loop. It speaks just enough of the V1 wire shape
// (the same routes and socket path as Akka.Sync) for bench/Load to drive it with the same client code.
var builder = WebApplication.CreateSlimBuilder(args);
builder.Logging.SetMinimumLevel(LogLevel.Warning);
var app = builder.Build();
app.UseWebSockets();

var conversations = new System.Collections.Concurrent.ConcurrentDictionary<string, Conversation>();
// The "100k sockets" workload turns on protocol pings like Akka.Sync's (Limits:PingInterval/PingTimeout, 20 s / 20 s),
// so CPU at rest compares like with like; every other workload runs without them.
var ping = int.TryParse(Environment.GetEnvironmentVariable("BASELINE_PING_SECONDS"), out var pingSeconds) && pingSeconds > 0
    ? new WebSocketAcceptContext { KeepAliveInterval = TimeSpan.FromSeconds(pingSeconds), KeepAliveTimeout = TimeSpan.FromSeconds(pingSeconds) }
    : null;
var encoder = new JsonWriterOptions { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

app.MapGet("/ready", () => Results.Ok());
app.MapGet("/alive", () => Results.Ok());

app.MapPost("/api/conversations", () =>
{
    var id = Guid.NewGuid().ToString("N");
    conversations[id] = new Conversation();
    return Results.Json(new { id, execution_status = "idle" }, statusCode: 201);
});

app.MapPost("/api/conversations/{id}/agent/events", async (string id, HttpRequest request) =>
{
    if (!conversations.TryGetValue(id, out var conversation)) return Results.Json(new { detail = "Conversation not found" }, statusCode: 404);
    using var doc = await JsonDocument.ParseAsync(request.Body);
    if (doc.RootElement.ValueKind != JsonValueKind.Array) return Results.Json(new { detail = "expected an array" }, statusCode: 400);
    var frames = new List<(string Id, byte[] Frame)>(doc.RootElement.GetArrayLength());
    foreach (var item in doc.RootElement.EnumerateArray())
    {
        var eventId = Guid.NewGuid().ToString();
        var buffer = new ArrayBufferWriter<byte>(256);
        using (var w = new Utf8JsonWriter(buffer, encoder))
        {
            w.WriteStartObject();
            w.WriteString("kind"u8, item.GetProperty("kind").GetString());
            w.WriteString("id"u8, eventId);
            w.WriteString("timestamp"u8, DateTime.UtcNow.ToString("yyyy-MM-ddTHH:mm:ss.ffffff"));
            w.WriteString("source"u8, item.GetProperty("source").GetString());
            foreach (var p in item.EnumerateObject())
                if (p.Name is not ("kind" or "id" or "timestamp" or "source")) p.WriteTo(w);
            w.WriteEndObject();
        }
        frames.Add((eventId, buffer.WrittenSpan.ToArray()));
    }
    var seqs = conversation.Append(frames);
    return Results.Json(new { items = frames.Select((f, i) => new { id = f.Id, seq = seqs + i }) });
});

app.Map("/sockets/events/{id}", async (string id, HttpContext http) =>
{
    if (!http.WebSockets.IsWebSocketRequest) { http.Response.StatusCode = 400; return; }
    using var socket = ping is null ? await http.WebSockets.AcceptWebSocketAsync() : await http.WebSockets.AcceptWebSocketAsync(ping);
    if (!conversations.TryGetValue(id, out var conversation))
    {
        await socket.CloseAsync((WebSocketCloseStatus)4004, "Conversation not found", CancellationToken.None);
        return;
    }
    var query = http.Request.Query;
    var subscriber = new Subscriber();
    var replayFrom = conversation.Subscribe(subscriber, query["resend_all"] == "true", query["after_event_id"].FirstOrDefault(), out var liveFrom);
    if (replayFrom < 0)
    {
        await socket.CloseAsync((WebSocketCloseStatus)4009, "unknown after_event_id", CancellationToken.None);
        return;
    }
    var send = SendLoop(socket, conversation, subscriber, replayFrom, liveFrom);
    var buffer = new byte[512];
    try
    {
        while (socket.State == WebSocketState.Open)
        {
            var r = await socket.ReceiveAsync(buffer.AsMemory(), CancellationToken.None);
            if (r.MessageType == WebSocketMessageType.Close) break;
        }
    }
    catch (WebSocketException) { }
    finally
    {
        conversation.Unsubscribe(subscriber);
        subscriber.Queue.Writer.TryComplete();
    }
    try { await send; } catch { }
    if (socket.State == WebSocketState.CloseReceived)
        try { await socket.CloseOutputAsync(WebSocketCloseStatus.NormalClosure, "", CancellationToken.None); } catch { }
});

app.Run();

static async Task SendLoop(WebSocket socket, Conversation conversation, Subscriber subscriber, int replayFrom, int liveFrom)
{
    await socket.SendAsync(Conversation.FullState, WebSocketMessageType.Text, true, CancellationToken.None);
    for (var i = replayFrom; i < liveFrom; i++)
        await socket.SendAsync(conversation.At(i), WebSocketMessageType.Text, true, CancellationToken.None);
    var reader = subscriber.Queue.Reader;
    while (await reader.WaitToReadAsync())
        while (reader.TryRead(out var frame))
            await socket.SendAsync(frame, WebSocketMessageType.Text, true, CancellationToken.None);
    if (subscriber.SlowConsumer && socket.State == WebSocketState.Open)
        await socket.CloseOutputAsync((WebSocketCloseStatus)1013, "slow consumer", CancellationToken.None);
}

sealed class Subscriber
{
    public readonly Channel<byte[]> Queue = Channel.CreateBounded<byte[]>(new BoundedChannelOptions(10_000)
    {
        SingleReader = true, FullMode = BoundedChannelFullMode.Wait,
    });
    public volatile bool SlowConsumer;
}

sealed class Conversation
{
    public static readonly byte[] FullState =
        """{"kind":"ConversationStateUpdateEvent","id":"00000000-0000-0000-0000-000000000000","timestamp":"2026-01-01T00:00:00.000000","source":"environment","key":"full_state","value":{"execution_status":"idle"}}"""u8.ToArray();
    private readonly object _gate = new();
    private readonly List<byte[]> _log = new();
    private readonly Dictionary<string, int> _index = new();
    private readonly List<Subscriber> _subscribers = new();

    public byte[] At(int i) { lock (_gate) return _log[i]; }

    /// <summary>Appends and publishes under one lock, so a subscriber sees every event exactly once. Returns the first seq.</summary>
    public int Append(List<(string Id, byte[] Frame)> frames)
    {
        lock (_gate)
        {
            var first = _log.Count + 1;
            foreach (var (id, frame) in frames)
            {
                _index[id] = _log.Count;
                _log.Add(frame);
                foreach (var s in _subscribers)
                    if (!s.Queue.Writer.TryWrite(frame)) { s.SlowConsumer = true; s.Queue.Writer.TryComplete(); }
            }
            return first;
        }
    }

    /// <summary>Registers for live events; replay covers [replayFrom, liveFrom). -1 for an unknown after_event_id.</summary>
    public int Subscribe(Subscriber s, bool all, string? afterId, out int liveFrom)
    {
        lock (_gate)
        {
            liveFrom = _log.Count;
            var from = liveFrom;
            if (afterId is not null) from = _index.TryGetValue(afterId, out var at) ? at + 1 : -1;
            else if (all) from = 0;
            if (from >= 0) _subscribers.Add(s);
            return from;
        }
    }

    public void Unsubscribe(Subscriber s) { lock (_gate) _subscribers.Remove(s); }
}
