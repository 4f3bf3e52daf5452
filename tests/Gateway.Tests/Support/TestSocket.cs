using System.Net.Sockets;
using System.Net.WebSockets;
using System.Text;
using System.Text.Json;

namespace Akka.Sync.Gateway.Tests.Support;

/// <summary>A real <see cref="ClientWebSocket"/> with bounded waits for frames and for the close.</summary>
public sealed class TestSocket : IAsyncDisposable
{
    public static readonly TimeSpan DefaultTimeout = TimeSpan.FromSeconds(15);
    private readonly ClientWebSocket _ws;
    private readonly byte[] _buffer = new byte[64 * 1024];

    private TestSocket(ClientWebSocket ws) => _ws = ws;

    public WebSocketCloseStatus? CloseStatus => _ws.CloseStatus;
    public string? CloseDescription => _ws.CloseStatusDescription;
    public WebSocketState State => _ws.State;

    public static async Task<TestSocket> ConnectAsync(Uri uri, string? headerKey = null, int? kernelReceiveBuffer = null)
    {
        var ws = new ClientWebSocket();
        if (headerKey is not null) ws.Options.SetRequestHeader("X-Session-API-Key", headerKey);
        using var cts = new CancellationTokenSource(DefaultTimeout);
        if (kernelReceiveBuffer is { } size)
        {
            // A small, fixed kernel receive buffer makes "a client that stops reading" fill up quickly and predictably.
            using var handler = new SocketsHttpHandler
            {
                ConnectCallback = async (context, token) =>
                {
                    var socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { ReceiveBufferSize = size, NoDelay = true };
                    await socket.ConnectAsync(context.DnsEndPoint, token);
                    return new NetworkStream(socket, ownsSocket: true);
                },
            };
            await ws.ConnectAsync(uri, new HttpMessageInvoker(handler), cts.Token);
        }
        else
        {
            await ws.ConnectAsync(uri, cts.Token);
        }
        return new TestSocket(ws);
    }

    /// <summary>Connects expecting the upgrade to be refused; returns the HTTP status.</summary>
    public static async Task<int> ConnectRefusedAsync(Uri uri, string? headerKey = null)
    {
        using var ws = new ClientWebSocket();
        ws.Options.CollectHttpResponseDetails = true;
        if (headerKey is not null) ws.Options.SetRequestHeader("X-Session-API-Key", headerKey);
        using var cts = new CancellationTokenSource(DefaultTimeout);
        try
        {
            await ws.ConnectAsync(uri, cts.Token);
        }
        catch (WebSocketException)
        {
            return (int)ws.HttpStatusCode;
        }
        throw new InvalidOperationException("the upgrade was accepted");
    }

    public Task SendTextAsync(string text) =>
        _ws.SendAsync(Encoding.UTF8.GetBytes(text), WebSocketMessageType.Text, true, CancellationToken.None);

    public Task SendBinaryAsync(byte[] data) =>
        _ws.SendAsync(data, WebSocketMessageType.Binary, true, CancellationToken.None);

    /// <summary>The next text frame as JSON; throws if the socket closes or nothing arrives in time.</summary>
    public async Task<JsonElement> ReceiveJsonAsync(TimeSpan? timeout = null)
    {
        var text = await ReceiveTextAsync(timeout) ?? throw new InvalidOperationException(
            $"socket closed: {_ws.CloseStatus} {_ws.CloseStatusDescription}");
        return JsonDocument.Parse(text).RootElement.Clone();
    }

    /// <summary>The next text frame, or null when the server closed.</summary>
    public async Task<string?> ReceiveTextAsync(TimeSpan? timeout = null)
    {
        using var cts = new CancellationTokenSource(timeout ?? DefaultTimeout);
        using var ms = new MemoryStream();
        while (true)
        {
            var result = await _ws.ReceiveAsync(_buffer, cts.Token);
            if (result.MessageType == WebSocketMessageType.Close) return null;
            ms.Write(_buffer, 0, result.Count);
            if (result.EndOfMessage) return Encoding.UTF8.GetString(ms.ToArray());
        }
    }

    /// <summary>Reads frames until the server closes; returns the frames read before the close.</summary>
    public async Task<List<JsonElement>> ReadUntilClosedAsync(TimeSpan? timeout = null)
    {
        var frames = new List<JsonElement>();
        while (await ReceiveTextAsync(timeout) is { } text)
            frames.Add(JsonDocument.Parse(text).RootElement.Clone());
        return frames;
    }

    /// <summary>Reads raw text frames until the server closes (for non-JSON protocols like Engine.IO).</summary>
    public async Task<List<string>> ReadUntilClosedRawAsync(TimeSpan? timeout = null)
    {
        var frames = new List<string>();
        while (await ReceiveTextAsync(timeout) is { } text) frames.Add(text);
        return frames;
    }

    /// <summary>Reads frames until one matches, returning all read (the match last).</summary>
    public async Task<List<JsonElement>> ReceiveUntilAsync(Func<JsonElement, bool> match, TimeSpan? timeout = null)
    {
        var frames = new List<JsonElement>();
        var deadline = DateTime.UtcNow + (timeout ?? DefaultTimeout);
        while (true)
        {
            var left = deadline - DateTime.UtcNow;
            if (left <= TimeSpan.Zero) throw new TimeoutException($"no matching frame after {frames.Count} frames");
            var frame = await ReceiveJsonAsync(left);
            frames.Add(frame);
            if (match(frame)) return frames;
        }
    }

    /// <summary>After the server's close frame: sends the client's, completing the close handshake.</summary>
    public async Task AnswerCloseAsync()
    {
        if (_ws.State != WebSocketState.CloseReceived) throw new InvalidOperationException($"no close to answer: {_ws.State}");
        using var cts = new CancellationTokenSource(DefaultTimeout);
        await _ws.CloseOutputAsync(_ws.CloseStatus ?? WebSocketCloseStatus.NormalClosure, "", cts.Token);
    }

    public async Task CloseAsync()
    {
        if (_ws.State == WebSocketState.Open)
        {
            using var cts = new CancellationTokenSource(DefaultTimeout);
            try { await _ws.CloseAsync(WebSocketCloseStatus.NormalClosure, "bye", cts.Token); }
            catch (WebSocketException) { }
        }
    }

    public async ValueTask DisposeAsync()
    {
        await CloseAsync();
        _ws.Dispose();
    }
}

public static class Frames
{
    public static string Kind(this JsonElement e) => e.GetProperty("kind").GetString()!;
    public static string Id(this JsonElement e) => e.GetProperty("id").GetString()!;
    public static bool IsStatus(this JsonElement e, string value) =>
        e.Kind() == "ConversationStateUpdateEvent" && e.GetProperty("key").GetString() == "execution_status"
        && e.GetProperty("value").GetString() == value;
}
