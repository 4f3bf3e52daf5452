using Akka.Sync.Protocol;

namespace Akka.Sync.Actors.Following;

/// <summary>How conversations follow upstream agent servers; bound from the <c>Upstream</c> configuration section.</summary>
public sealed record UpstreamSettings
{
    /// <summary>
    /// The default upstream: a conversation created without an <c>upstream</c> field is created there (with the same
    /// body) and followed. Empty: conversations follow an upstream only when asked to.
    /// </summary>
    public string? Url { get; init; }
    /// <summary>Where the Data Protection key ring that encrypts stored upstream keys lives (default: the data directory).</summary>
    public string? KeyRingDirectory { get; init; }
    /// <summary>How long one call to an upstream (a forwarded action, a page of events, a socket handshake) may take.</summary>
    public TimeSpan RequestTimeout { get; init; } = TimeSpan.FromSeconds(5);
    /// <summary>The first wait before reconnecting after a lost link; it doubles on each failed attempt…</summary>
    public TimeSpan MinBackoff { get; init; } = TimeSpan.FromSeconds(1);
    /// <summary>…up to this (also the wait after the upstream refused the key or does not know the conversation).</summary>
    public TimeSpan MaxBackoff { get; init; } = TimeSpan.FromSeconds(30);
    /// <summary>
    /// How far before the last stored event's time a resume reads again (the ids already stored are skipped): covers
    /// upstream events that shared a timestamp, or whose time had to move on to keep this log's order.
    /// </summary>
    public TimeSpan ResumeOverlap { get; init; } = TimeSpan.FromSeconds(1);
    /// <summary>How often the keeper starts every bound conversation that is not running (after a failover or a restart).</summary>
    public TimeSpan KeepAliveInterval { get; init; } = TimeSpan.FromSeconds(5);
    /// <summary>Upstream events held in memory, received and not yet stored; past it the link reconnects and reads on over REST.</summary>
    public int MaxPending { get; init; } = 10_000;
    /// <summary>Events per write into the log.</summary>
    public int BatchSize { get; init; } = 100;
}

/// <summary>
/// The session keys of upstream agent servers. They are secrets: encrypted before they are stored (the journal and
/// snapshots hold only <see cref="UpstreamBinding.ProtectedKey"/>), decrypted only in memory by the follower, never
/// logged, never returned.
/// </summary>
public interface IUpstreamKeys
{
    /// <summary>The key encrypted for storage.</summary>
    byte[] Protect(string key);

    /// <summary>
    /// The key for this binding: its own (decrypted), or the configured one for the configured upstream, or null (none).
    /// Throws <see cref="System.Security.Cryptography.CryptographicException"/> when the stored key cannot be decrypted.
    /// </summary>
    string? KeyFor(UpstreamBinding binding);
}

/// <summary>What followers share on a node: the settings, the key store and one HTTP client (its connection pool).</summary>
public sealed class UpstreamServices(UpstreamSettings settings, IUpstreamKeys keys, HttpMessageHandler? handler = null) : IDisposable
{
    public UpstreamSettings Settings { get; } = settings;
    public IUpstreamKeys Keys { get; } = keys;

    /// <summary>Per-call deadlines come from <see cref="UpstreamSettings.RequestTimeout"/>, not from the client.</summary>
    public HttpClient Http { get; } = new(handler ?? new SocketsHttpHandler { PooledConnectionLifetime = TimeSpan.FromMinutes(5) })
    {
        Timeout = Timeout.InfiniteTimeSpan,
    };

    public void Dispose() => Http.Dispose();
}
