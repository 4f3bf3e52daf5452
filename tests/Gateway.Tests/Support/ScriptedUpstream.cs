using System.Collections.Concurrent;
using System.Net.WebSockets;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Threading.Channels;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;

namespace Akka.Sync.Gateway.Tests.Support;

/// <summary>
/// A small stand-in for an OpenHands agent server (agent-server 1.43's shapes: <c>sockets.py</c>,
/// <c>event_router.py</c>, <c>conversation_router.py</c>) that the tests script into faults: searches that ignore
/// <c>timestamp__gte</c> (overlapping replays), sockets that first re-send the whole log (duplicates) and are dropped
/// after a number of frames (a drop mid-replay), 5xx answers, a key that changes, a stop and a restart on the same
/// port with the same log. One conversation; its log is a list of agent-server events with naive timestamps.
/// </summary>
public sealed class ScriptedUpstream : IAsyncDisposable
{
    private readonly List<JsonObject> _log = [];
    private readonly ConcurrentDictionary<Channel<byte[]>, byte> _sockets = new();
    private readonly ConcurrentQueue<string> _forwarded = new();
    private readonly DateTime _clock0 = new(2026, 8, 22, 16, 0, 0, DateTimeKind.Unspecified);
    private WebApplication? _app;
    private int _port;

    public string ConversationId { get; } = Guid.NewGuid().ToString("D");
    public string Url => $"http://127.0.0.1:{_port}";

    /// <summary>The key the upstream accepts (header, or a socket's first frame); null: open.</summary>
    public volatile string? Key;
    /// <summary>The next this-many searches answer 500.</summary>
    public int FailSearches;
    /// <summary>Searches ignore <c>timestamp__gte</c> and start this many events earlier than asked (overlaps).</summary>
    public volatile bool OverlapSearches;
    /// <summary>Every socket re-sends the whole log before its live events (duplicates of what was stored).</summary>
    public volatile bool ReplayOnConnect;
    /// <summary>The next this-many sockets are dropped (no close frame) after <see cref="DropAfterFrames"/> frames.</summary>
    public int DropSockets;
    public volatile int DropAfterFrames = int.MaxValue;
    /// <summary>The status forwarded actions (POST …/events, run, pause, …) are answered with.</summary>
    public volatile int ForwardStatus = 200;
    /// <summary>When set, forwarded actions wait for it before answering (a hung upstream).</summary>
    public volatile TaskCompletionSource? HoldForwards;

    public int Searches;
    public int Connections;

    /// <summary>Forwarded actions as "POST path body", in arrival order.</summary>
    public IReadOnlyCollection<string> Forwarded => _forwarded;

    public static async Task<ScriptedUpstream> StartAsync()
    {
        var upstream = new ScriptedUpstream();
        await upstream.StartOnAsync(0);
        return upstream;
    }

    private async Task StartOnAsync(int port)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls($"http://127.0.0.1:{port}");
        builder.Logging.ClearProviders();
        var app = builder.Build();
        app.UseWebSockets();
        var conversation = $"/api/conversations/{ConversationId}";
        app.MapGet(conversation, (HttpRequest r) => Authorized(r) ? Results.Json(new { id = ConversationId, title = "scripted" }) : Refused());
        app.MapGet(conversation + "/events/search", Search);
        app.MapPost(conversation + "/{**action}", Forward);
        app.Map($"/sockets/events/{ConversationId}", Socket);
        await app.StartAsync();
        _app = app;
        _port = new Uri(app.Urls.First()).Port;
    }

    /// <summary>Stops listening (clients see connection refused); the log stays.</summary>
    public async Task StopAsync()
    {
        if (_app is null) return;
        foreach (var s in _sockets.Keys) s.Writer.TryComplete(new IOException("upstream stopped"));
        await _app.StopAsync();
        await _app.DisposeAsync();
        _app = null;
    }

    /// <summary>Starts again on the same port with the same log.</summary>
    public Task RestartAsync() => StartOnAsync(_port);

    /// <summary>Appends agent events (unique naive timestamps, as agent-server writes them) and sends them to every socket.</summary>
    public string[] Append(int count, string source = "agent")
    {
        var ids = new string[count];
        lock (_log)
        {
            for (var i = 0; i < count; i++)
            {
                var e = new JsonObject
                {
                    ["id"] = ids[i] = Guid.NewGuid().ToString("D"),
                    ["timestamp"] = _clock0.AddMilliseconds(_log.Count).ToString("yyyy-MM-dd'T'HH':'mm':'ss'.'ffffff"),
                    ["source"] = source,
                    ["llm_message"] = new JsonObject { ["role"] = "assistant", ["content"] = new JsonArray(new JsonObject { ["type"] = "text", ["text"] = $"event {_log.Count + 1}" }) },
                    ["activated_skills"] = new JsonArray(),
                    ["sender"] = null,
                    ["kind"] = "MessageEvent",
                };
                _log.Add(e);
                var frame = Encoding.UTF8.GetBytes(e.ToJsonString());
                foreach (var s in _sockets.Keys) s.Writer.TryWrite(frame);
            }
        }
        return ids;
    }

    public JsonObject[] Log
    {
        get { lock (_log) return _log.Select(e => (JsonObject)e.DeepClone()).ToArray(); }
    }

    /// <summary>Drops every open socket at once (no close frame).</summary>
    public void DropAll()
    {
        foreach (var s in _sockets.Keys) s.Writer.TryComplete(new IOException("dropped"));
    }

    private bool Authorized(HttpRequest r) => Key is null || r.Headers["X-Session-API-Key"] == Key;

    private static IResult Refused() => Results.Json(new { detail = "Unauthorized" }, statusCode: 401);

    private IResult Search(HttpRequest r)
    {
        Interlocked.Increment(ref Searches);
        if (!Authorized(r)) return Refused();
        if (Interlocked.Decrement(ref FailSearches) >= 0)
            return Results.Json(new { detail = "Internal Server Error", exception = "scripted" }, statusCode: 500);
        var limit = int.Parse(r.Query["limit"].FirstOrDefault() ?? "100");
        var since = r.Query["timestamp__gte"].FirstOrDefault();
        var pageId = r.Query["page_id"].FirstOrDefault();
        JsonObject[] items;
        lock (_log) items = _log.ToArray();
        var start = 0;
        if (since is not null)
        {
            // agent-server compares the ISO strings of naive local times (event_service.py).
            start = Array.FindIndex(items, e => string.CompareOrdinal((string)e["timestamp"]!, since) >= 0);
            if (start < 0) start = items.Length;
            if (OverlapSearches) start = Math.Max(0, start - 25);
        }
        if (pageId is not null && Array.FindIndex(items, e => (string)e["id"]! == pageId) is >= 0 and var at) start = at;
        var page = items.Skip(start).Take(limit).ToArray();
        var next = start + limit < items.Length ? (string)items[start + limit]["id"]! : null;
        return Results.Json(new { items = page, next_page_id = next });
    }

    private async Task<IResult> Forward(HttpRequest r, string action)
    {
        if (!Authorized(r)) return Refused();
        var body = await new StreamReader(r.Body).ReadToEndAsync();
        _forwarded.Enqueue($"POST {action} {body}".TrimEnd());
        if (HoldForwards is { } hold) await hold.Task;
        return ForwardStatus switch
        {
            200 => Results.Json(new { success = true }),
            var s => Results.Json(new { detail = s == 409 ? "Conversation already running" : $"scripted {s}" }, statusCode: s),
        };
    }

    /// <summary>agent-server's socket: first-frame auth, subscribe, full_state, the replay asked for (or scripted), live.</summary>
    private async Task Socket(HttpContext http)
    {
        if (!http.WebSockets.IsWebSocketRequest) { http.Response.StatusCode = 400; return; }
        using var ws = await http.WebSockets.AcceptWebSocketAsync();
        Interlocked.Increment(ref Connections);
        var stop = http.RequestAborted;
        if (Key is { } key)
        {
            var buffer = new byte[4096];
            var first = await ws.ReceiveAsync(buffer, stop);
            using var auth = JsonDocument.Parse(buffer.AsMemory(0, first.Count));
            if (!auth.RootElement.TryGetProperty("session_api_key", out var k) || k.GetString() != key)
            {
                await ws.CloseAsync((WebSocketCloseStatus)4001, "Authentication failed", stop);
                return;
            }
        }
        var live = Channel.CreateUnbounded<byte[]>();
        _sockets[live] = 0;
        try
        {
            var drop = Interlocked.Decrement(ref DropSockets) >= 0 ? DropAfterFrames : int.MaxValue;
            var sent = 0;
            var state = new JsonObject
            {
                ["id"] = Guid.NewGuid().ToString("D"), ["timestamp"] = DateTime.Now.ToString("O"), ["source"] = "environment",
                ["key"] = "full_state", ["value"] = new JsonObject { ["execution_status"] = "idle" }, ["kind"] = "ConversationStateUpdateEvent",
            };
            await ws.SendAsync(Encoding.UTF8.GetBytes(state.ToJsonString()), WebSocketMessageType.Text, true, stop);
            if (ReplayOnConnect)
                foreach (var e in Log)
                {
                    if (sent++ >= drop) { ws.Abort(); return; }
                    await ws.SendAsync(Encoding.UTF8.GetBytes(e.ToJsonString()), WebSocketMessageType.Text, true, stop);
                }
            await foreach (var frame in live.Reader.ReadAllAsync(stop))
            {
                if (sent++ >= drop) { ws.Abort(); return; }
                await ws.SendAsync(frame, WebSocketMessageType.Text, true, stop);
            }
        }
        catch (Exception e) when (e is IOException or OperationCanceledException or WebSocketException or ChannelClosedException)
        {
            ws.Abort();
        }
        finally
        {
            _sockets.TryRemove(live, out _);
        }
    }

    public async ValueTask DisposeAsync()
    {
        HoldForwards?.TrySetResult();
        await StopAsync();
    }
}
