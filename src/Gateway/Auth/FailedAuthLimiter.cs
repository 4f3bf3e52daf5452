using System.Net;
using System.Threading.RateLimiting;
using Akka.Sync.Gateway.Settings;

namespace Akka.Sync.Gateway.Auth;

/// <summary>
/// Bounds failed authentication attempts per client IP (a fixed window of <c>Limits:FailedAuthPerMinute</c>): past it,
/// every route and socket answers 429 / a refusal until the window ends, so keys cannot be guessed at speed.
/// Successful requests cost nothing.
/// </summary>
public sealed class FailedAuthLimiter : IDisposable
{
    private readonly PartitionedRateLimiter<IPAddress> _limiter;

    public FailedAuthLimiter(GatewaySettings settings)
    {
        var permits = settings.Limits.FailedAuthPerMinute;
        _limiter = PartitionedRateLimiter.Create<IPAddress, IPAddress>(ip => RateLimitPartition.GetFixedWindowLimiter(ip,
            _ => new FixedWindowRateLimiterOptions { PermitLimit = permits, Window = TimeSpan.FromMinutes(1), QueueLimit = 0 }));
    }

    private static IPAddress Client(HttpContext http) => http.Connection.RemoteIpAddress ?? IPAddress.None;

    /// <summary>True when this client has used up its failed attempts for the current window.</summary>
    public bool IsBlocked(HttpContext http)
    {
        using var lease = _limiter.AttemptAcquire(Client(http), 0);
        return !lease.IsAcquired;
    }

    /// <summary>Counts one failed attempt for this client.</summary>
    public void Failed(HttpContext http) => _limiter.AttemptAcquire(Client(http), 1).Dispose();

    public const string Detail = "too many failed authentication attempts from this address; try again in a minute";

    public void Dispose() => _limiter.Dispose();
}
