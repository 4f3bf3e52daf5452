using Akka.Sync.Gateway.Settings;

namespace Akka.Sync.Gateway.Transport;

/// <summary>Counts this node's open sockets (both dialects) against <c>Limits:MaxSocketsPerNode</c>.</summary>
public sealed class SocketBudget(GatewaySettings settings)
{
    private int _open;

    public int Open => Volatile.Read(ref _open);

    /// <summary>Takes a slot; false (and nothing taken) when the node is full.</summary>
    public bool TryTake()
    {
        if (Interlocked.Increment(ref _open) <= settings.Limits.MaxSocketsPerNode) return true;
        Interlocked.Decrement(ref _open);
        return false;
    }

    public void Release() => Interlocked.Decrement(ref _open);

    public const string FullReason = "too many sockets on this node";
}
