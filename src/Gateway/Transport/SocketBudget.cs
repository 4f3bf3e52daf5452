using Akka.Sync.Gateway.Settings;

namespace Akka.Sync.Gateway.Transport;

/// <summary>
/// Counts this node's open sockets (both dialects) against <c>Limits:MaxSocketsPerNode</c>, and the outbound pumps
/// still running (a pump that outlives its socket would be a leak; the stress tests check both return to zero), and
/// holds their send deadlines. When the node stops it drains: every socket is closed with 1012 (reconnect now, to
/// another node) and new ones get the same close at once.
/// </summary>
public sealed class SocketBudget : IDisposable
{
    private readonly GatewaySettings _settings;
    private readonly SendDeadlines _deadlines;
    private readonly System.Collections.Concurrent.ConcurrentDictionary<WebSocketTransport, byte> _running = new();
    private readonly Action<WebSocketTransport> _pumpEnded;
    private volatile bool _draining;

    public SocketBudget(GatewaySettings settings)
    {
        _settings = settings;
        _deadlines = new SendDeadlines(_running);
        _pumpEnded = transport =>
        {
            _running.TryRemove(transport, out _);
            Interlocked.Decrement(ref _pumps);
        };
    }

    public const string RestartReason = "service restart: reconnect to another node with your last event id";

    /// <summary>The node is stopping: new sockets are told at once to reconnect elsewhere (1012), and /ready is off.</summary>
    public bool Draining => _draining;

    /// <summary>From now on every new socket is closed with 1012 as soon as it opens (the node has started stopping).</summary>
    public void StopAccepting() => _draining = true;

    /// <summary>
    /// Closes every socket with 1012 after what is already queued for it (its client resumes from the last event it
    /// received, on another node), and every socket opened from now on.
    /// </summary>
    public void Drain()
    {
        _draining = true;
        foreach (var transport in _running.Keys) transport.Close(Protocol.CloseCodes.ServiceRestart, RestartReason);
    }

    /// <summary>Sockets aborted because their peer stopped reading (a send missed <c>Limits:SendTimeout</c>).</summary>
    public long SendTimeouts => _deadlines.Aborted;
    private int _open;
    private int _pumps;

    public int Open => Volatile.Read(ref _open);

    /// <summary>Outbound pumps (<see cref="WebSocketTransport"/>) started and not yet completed.</summary>
    public int Pumps => Volatile.Read(ref _pumps);

    /// <summary>
    /// Starts a transport's pump and counts it until it completes; its send deadline is watched meanwhile (one registry,
    /// one shared completion callback: nothing allocated per socket for the tracking but the registry's entry).
    /// </summary>
    public void StartPump(WebSocketTransport transport)
    {
        Interlocked.Increment(ref _pumps);
        _running.TryAdd(transport, 0);
        transport.Start(_pumpEnded);
        // Added before the flag is read: a socket opened while the node starts draining is closed by one or the other.
        if (_draining) transport.Close(Protocol.CloseCodes.ServiceRestart, RestartReason);
    }

    /// <summary>Takes a slot; false (and nothing taken) when the node is full.</summary>
    public bool TryTake()
    {
        if (Interlocked.Increment(ref _open) <= _settings.Limits.MaxSocketsPerNode) return true;
        Interlocked.Decrement(ref _open);
        return false;
    }

    public void Release() => Interlocked.Decrement(ref _open);

    public const string FullReason = "too many sockets on this node";

    /// <summary>Descriptors a node needs besides its sockets (journal, listeners, remoting, epoll, pipes), with margin.</summary>
    public const int OtherDescriptors = 1_000;

    /// <summary>
    /// This process' open-file limit (soft) from <c>/proc/self/limits</c>; null where there is none to read. Every socket
    /// is a descriptor: past the limit Kestrel fails to accept (the client sees a reset), before
    /// <c>Limits:MaxSocketsPerNode</c> can answer 1013.
    /// </summary>
    public static long? DescriptorLimit(string? limitsText = null)
    {
        try
        {
            limitsText ??= File.ReadAllText("/proc/self/limits");
        }
        catch (IOException) { return null; }
        catch (UnauthorizedAccessException) { return null; }
        foreach (var line in limitsText.Split('\n'))
        {
            if (!line.StartsWith("Max open files", StringComparison.Ordinal)) continue;
            var soft = line["Max open files".Length..].Split(' ', StringSplitOptions.RemoveEmptyEntries).FirstOrDefault();
            return soft == "unlimited" ? long.MaxValue : long.TryParse(soft, out var n) ? n : null;
        }
        return null;
    }

    public void Dispose() => _deadlines.Dispose();
}
