using System.Collections.Concurrent;

namespace Akka.Sync.Gateway.Transport;

/// <summary>
/// The send deadline of every socket on this node, checked by one timer (a timer per socket, or a cancellation source
/// reset per frame, would cost every socket and every frame): once a second it aborts each socket whose send in
/// progress is older than <c>Limits:SendTimeout</c> (<see cref="WebSocketTransport.AbortIfSendStuck"/>), and adds
/// the frames each socket sent since the last sweep to the frames-sent metric (<see cref="WebSocketTransport.ReportFramesSent"/>).
/// </summary>
/// <param name="transports">The node's running transports (<see cref="SocketBudget"/>'s one registry of them).</param>
public sealed class SendDeadlines : IDisposable
{
    private readonly ConcurrentDictionary<WebSocketTransport, byte> _transports;
    private readonly Timer _timer;

    public SendDeadlines(ConcurrentDictionary<WebSocketTransport, byte> transports)
    {
        _transports = transports;
        _timer = new Timer(_ => Check(), null, TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(1));
    }

    /// <summary>Sockets aborted for a missed send deadline since start.</summary>
    public long Aborted => Interlocked.Read(ref _aborted);
    private long _aborted;

    private void Check()
    {
        var now = System.Diagnostics.Stopwatch.GetTimestamp();
        foreach (var transport in _transports.Keys)
        {
            transport.ReportFramesSent();
            if (transport.AbortIfSendStuck(now)) Interlocked.Increment(ref _aborted);
        }
    }

    public void Dispose() => _timer.Dispose();
}
