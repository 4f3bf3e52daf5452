using System.Diagnostics;
using System.Net.WebSockets;
using System.Text.Json;

namespace Akka.Sync.Cluster.Tests.Support;

/// <summary>
/// A V1 client as the contract asks clients to behave: it reads for as long as its socket is open and keeps every event
/// id in the order received; when the socket closes or breaks it reconnects at once, to another node, with
/// <c>after_event_id</c> of the last event it has (bounded: a back-off of 200 ms between refused attempts, a minute in
/// all). It records every close (code and reason, or <c>aborted</c>) and how long each resume took to its first frame.
/// </summary>
public sealed class ResumingEventStream : IAsyncDisposable
{
    private readonly List<string> _ids = [];
    private readonly string _conversationId;
    private readonly Func<NodeProcess, NodeProcess> _next;
    private readonly CancellationTokenSource _stop = new();
    private TaskCompletionSource _arrived = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private ClientWebSocket _ws = new();
    private Task _loop = Task.CompletedTask;

    public string Name { get; }
    /// <summary>The node the socket is on now.</summary>
    public NodeProcess Node { get; private set; }
    /// <summary>Every close this client saw, in order: the node it was on and how the socket ended.</summary>
    public List<(string Node, string Close)> Closes { get; } = [];
    /// <summary>From each close to the first frame (full_state) on the node it resumed on.</summary>
    public List<TimeSpan> ResumeTimes { get; } = [];
    public WebSocketState State => _ws.State;

    private ResumingEventStream(string name, NodeProcess node, string conversationId, Func<NodeProcess, NodeProcess> next)
    {
        Name = name;
        Node = node;
        _conversationId = conversationId;
        _next = next;
    }

    /// <summary>
    /// Connects to <paramref name="node"/> replaying from the start and returns once its full_state arrived (it is then
    /// subscribed). <paramref name="next"/> names the node to resume on, given the one the socket was on.
    /// </summary>
    public static async Task<ResumingEventStream> OpenAsync(string name, NodeProcess node, string conversationId, Func<NodeProcess, NodeProcess> next)
    {
        var stream = new ResumingEventStream(name, node, conversationId, next);
        if (!await stream.ConnectAsync(node, "resend_all=true")) throw new InvalidOperationException($"{name}: no full_state from {node.Name}");
        stream._loop = Task.Run(stream.RunAsync);
        return stream;
    }

    public string[] Ids
    {
        get { lock (_ids) return _ids.ToArray(); }
    }

    private string? LastId
    {
        get { lock (_ids) return _ids.Count == 0 ? null : _ids[^1]; }
    }

    private async Task<bool> ConnectAsync(NodeProcess node, string query)
    {
        _ws.Dispose();
        _ws = new ClientWebSocket();
        using var cts = CancellationTokenSource.CreateLinkedTokenSource(_stop.Token);
        cts.CancelAfter(TimeSpan.FromSeconds(10));
        try
        {
            await _ws.ConnectAsync(node.SocketUri(_conversationId, query), cts.Token);
            if (await ReceiveAsync(cts.Token) is not { } first) return false;
            using var doc = JsonDocument.Parse(first);
            if (doc.RootElement.GetProperty("key").GetString() != "full_state")
                throw new InvalidOperationException($"{Name}: first frame is not full_state: {first}");
            Node = node;
            return true;
        }
        catch (Exception e) when (e is WebSocketException or OperationCanceledException or HttpRequestException)
        {
            return false;
        }
    }

    private async Task RunAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            while (await ReceiveAsync(_stop.Token) is { } text)
            {
                using var doc = JsonDocument.Parse(text);
                if (!doc.RootElement.TryGetProperty("id", out var id)) continue;
                lock (_ids)
                {
                    _ids.Add(id.GetString()!);
                    _arrived.TrySetResult();
                    _arrived = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
                }
            }
            if (_stop.IsCancellationRequested) return;
            Closes.Add((Node.Name, _ws.CloseStatus is { } s ? $"{(int)s} {_ws.CloseStatusDescription}" : "aborted"));
            var closedAt = Stopwatch.GetTimestamp();
            var deadline = DateTime.UtcNow.AddMinutes(1);
            var from = Node;
            while (true)
            {
                var node = _next(from);
                var last = LastId;
                if (await ConnectAsync(node, last is null ? "resend_all=true" : $"after_event_id={last}")) break;
                if (_stop.IsCancellationRequested) return;
                if (DateTime.UtcNow > deadline) throw new TimeoutException($"{Name} could not resume within a minute");
                from = node;
                await Task.Delay(200, _stop.Token); // a client's back-off between refused attempts, not synchronisation
            }
            ResumeTimes.Add(Stopwatch.GetElapsedTime(closedAt));
        }
    }

    private Task<string?> ReceiveAsync(CancellationToken token) => EventStream.ReceiveTextAsync(_ws, token);

    /// <summary>Waits (bounded) until the client has received <paramref name="count"/> events, across resumes.</summary>
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
            var woke = await Task.WhenAny(arrived, _loop, timedOut);
            if (woke == _loop && Ids.Length < count)
            {
                await _loop; // rethrows why it gave up
                throw new InvalidOperationException($"{Name} stopped after {Ids.Length}/{count} events");
            }
            if (woke == timedOut && Ids.Length < count)
                throw new TimeoutException($"{Name} has {Ids.Length}/{count} events after {timeout}; closes: {string.Join(", ", Closes)}");
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        try { await _loop; } catch (OperationCanceledException) { } catch (TimeoutException) { }
        _ws.Abort();
        _ws.Dispose();
        _stop.Dispose();
    }
}
