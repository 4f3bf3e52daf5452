using System.Collections.Concurrent;

namespace Akka.Sync.Gateway.Transport;

/// <summary>
/// The send deadline of every socket on this node, checked by one timer (a timer per socket, or a cancellation source
/// reset per frame, would cost every socket and every frame): once a second it aborts each socket whose send in
/// progress is older than <c>Limits:SendTimeout</c> (<see cref="WebSocketTransport.AbortIfSendStuck"/>).
/// </summary>
public sealed class SendDeadlines : IDisposable
{
    private readonly ConcurrentDictionary<WebSocketTransport, byte> _transports = new();
    private readonly Timer _timer;

    public SendDeadlines() => _timer = new Timer(_ => Check(), null, TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(1));

    /// <summary>Sockets aborted for a missed send deadline since start.</summary>
    public long Aborted => Interlocked.Read(ref _aborted);
    private long _aborted;

    /// <summary>Watches a started transport until its pump completes.</summary>
    public void Watch(WebSocketTransport transport)
    {
        _transports.TryAdd(transport, 0);
        transport.Completion.ContinueWith(_ => _transports.TryRemove(transport, out byte _), CancellationToken.None,
            TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
    }

    /// <summary>Closes every watched socket (the node is shutting down: clients and followers reconnect elsewhere at once).</summary>
    public void CloseAll(int code, string reason)
    {
        foreach (var transport in _transports.Keys) transport.Close(code, reason);
    }

    private void Check()
    {
        var now = System.Diagnostics.Stopwatch.GetTimestamp();
        foreach (var transport in _transports.Keys)
            if (transport.AbortIfSendStuck(now)) Interlocked.Increment(ref _aborted);
    }

    public void Dispose() => _timer.Dispose();
}
