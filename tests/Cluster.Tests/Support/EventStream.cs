using System.Net.WebSockets;
using System.Text.Json;

namespace Akka.Sync.Cluster.Tests.Support;

/// <summary>
/// A V1 socket (<c>ClientWebSocket</c>) that reads for as long as it is open and keeps every event id in the
/// order received. It never reconnects: the tests prove the server keeps it whole across node loss.
/// </summary>
public sealed class EventStream : IAsyncDisposable
{
    private readonly ClientWebSocket _ws = new();
    private readonly List<string> _ids = [];
    private TaskCompletionSource _arrived = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly CancellationTokenSource _stop = new();
    private Task _reader = Task.CompletedTask;

    public string Name { get; }
    public WebSocketState State => _ws.State;
    public string? CloseDescription => _ws.CloseStatus is { } s ? $"{(int)s} {_ws.CloseStatusDescription}" : null;

    private EventStream(string name) => Name = name;

    public static async Task<EventStream> OpenAsync(string name, Uri uri)
    {
        var stream = new EventStream(name);
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(15));
        await stream._ws.ConnectAsync(uri, cts.Token);
        var first = await stream.ReceiveAsync(cts.Token) ?? throw new InvalidOperationException("closed before full_state");
        using (var doc = JsonDocument.Parse(first))
            if (doc.RootElement.GetProperty("key").GetString() != "full_state")
                throw new InvalidOperationException("first frame is not full_state: " + first);
        stream._reader = Task.Run(stream.ReadLoop);
        return stream;
    }

    public string[] Ids
    {
        get { lock (_ids) return _ids.ToArray(); }
    }

    private async Task ReadLoop()
    {
        while (await ReceiveAsync(_stop.Token) is { } text)
        {
            using var doc = JsonDocument.Parse(text);
            if (doc.RootElement.TryGetProperty("id", out var id))
                lock (_ids)
                {
                    _ids.Add(id.GetString()!);
                    _arrived.TrySetResult();
                    _arrived = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
                }
        }
    }

    private Task<string?> ReceiveAsync(CancellationToken token) => ReceiveTextAsync(_ws, token);

    /// <summary>One whole text message of <paramref name="ws"/>, or null once it closes or fails (shared with <see cref="ResumingEventStream"/>).</summary>
    internal static async Task<string?> ReceiveTextAsync(WebSocket ws, CancellationToken token)
    {
        var buffer = new byte[64 * 1024];
        using var message = new MemoryStream();
        while (true)
        {
            WebSocketReceiveResult result;
            try
            {
                result = await ws.ReceiveAsync(buffer, token);
            }
            catch (Exception e) when (e is WebSocketException or OperationCanceledException)
            {
                return null;
            }
            if (result.MessageType == WebSocketMessageType.Close) return null;
            message.Write(buffer, 0, result.Count);
            if (result.EndOfMessage) return System.Text.Encoding.UTF8.GetString(message.GetBuffer(), 0, (int)message.Length);
        }
    }

    /// <summary>Waits (bounded) until the socket has received <paramref name="count"/> events; fails if it closes first.</summary>
    public async Task WaitForCountAsync(int count, TimeSpan timeout)
    {
        using var deadline = new CancellationTokenSource(timeout);
        var timedOut = Task.Delay(Timeout.Infinite, deadline.Token);
        while (true)
        {
            Task arrived;
            lock (_ids)
            {
                if (_ids.Count >= count) return;
                arrived = _arrived.Task;
            }
            // Woken by the next event, by the socket closing, or by the deadline: no polling.
            var woke = await Task.WhenAny(arrived, _reader, timedOut);
            if (woke == _reader && Ids.Length < count)
                throw new InvalidOperationException($"{Name} closed after {Ids.Length}/{count} events: {CloseDescription}");
            if (woke == timedOut && Ids.Length < count)
                throw new TimeoutException($"{Name} has {Ids.Length}/{count} events after {timeout}");
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        try { await _reader; } catch (OperationCanceledException) { }
        _ws.Abort();
        _ws.Dispose();
        _stop.Dispose();
    }
}
