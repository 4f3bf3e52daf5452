using Akka.Sync.Actors.Connections;
using Akka.Sync.Actors.Conversations;
using Akka.Sync.Actors.Following;
using Akka.Sync.Actors.Hosting;

namespace Akka.Sync.Gateway.Settings;

/// <summary>Bounds that protect the server; every one is a <c>Limits:*</c> setting (README lists them).</summary>
public sealed record LimitSettings
{
    /// <summary>Largest inbound socket message; larger closes the socket with 1009.</summary>
    public int MaxFrameBytes { get; init; } = 1024 * 1024;
    /// <summary>Outbound queue bound per socket in frames; past it the socket is closed with 1013.</summary>
    public int MaxQueuedFrames { get; init; } = 10_000;
    /// <summary>Outbound queue bound per socket in bytes; past it the socket is closed with 1013.</summary>
    public long MaxQueuedBytes { get; init; } = 4 * 1024 * 1024;
    /// <summary>Events per agent ingest batch.</summary>
    public int MaxBatchEvents { get; init; } = 1000;
    /// <summary>Largest REST request body; larger answers 413.</summary>
    public long MaxBodyBytes { get; init; } = 16 * 1024 * 1024;
    /// <summary>How long a socket without a key has to send its auth frame.</summary>
    public TimeSpan AuthTimeout { get; init; } = TimeSpan.FromSeconds(10);
    /// <summary>WebSocket protocol ping interval.</summary>
    public TimeSpan PingInterval { get; init; } = TimeSpan.FromSeconds(20);
    /// <summary>How long a socket may leave a ping unanswered before it is dropped.</summary>
    public TimeSpan PingTimeout { get; init; } = TimeSpan.FromSeconds(20);
    /// <summary>Failed authentication attempts allowed per client IP per minute; past it, 429 (or a refusal on sockets).</summary>
    public int FailedAuthPerMinute { get; init; } = 30;
    /// <summary>Sockets one conversation may have open across the cluster; past it, close 1013.</summary>
    public int MaxSocketsPerConversation { get; init; } = 1000;
    /// <summary>Sockets one node may have open; past it, close 1013.</summary>
    public int MaxSocketsPerNode { get; init; } = 20_000;
    /// <summary>Engine.IO (V0) heartbeat: the server pings this often (python-engineio's default)…</summary>
    public TimeSpan EngineIoPingInterval { get; init; } = TimeSpan.FromSeconds(25);
    /// <summary>…and closes a client whose pong is this late.</summary>
    public TimeSpan EngineIoPingTimeout { get; init; } = TimeSpan.FromSeconds(20);
    /// <summary>How long REST and socket calls wait for a conversation to answer (then 503).</summary>
    public TimeSpan AskTimeout { get; init; } = TimeSpan.FromSeconds(10);
    /// <summary>How long a closing socket may take to flush before it is aborted.</summary>
    public TimeSpan CloseTimeout { get; init; } = TimeSpan.FromSeconds(30);
    /// <summary>How long one send to a socket may take; a peer that stops reading (its TCP window full) is aborted after it.</summary>
    public TimeSpan SendTimeout { get; init; } = TimeSpan.FromSeconds(15);
    /// <summary>A socket's own commands (messages, actions) awaiting their answer; past it they get <c>busy</c> and are not applied.</summary>
    public int MaxCommandsInFlight { get; init; } = 16;
    /// <summary>A socket that received nothing this long asks its conversation for its last seq (a publish lost between nodes).</summary>
    public TimeSpan QuietResync { get; init; } = TimeSpan.FromSeconds(30);
}

public sealed record AgentSettings
{
    /// <summary><c>demo</c> (built-in demo agent) or <c>external</c> (agents push through ingest).</summary>
    public string Mode { get; init; } = "demo";
    public TimeSpan DemoStepDelay { get; init; } = TimeSpan.FromMilliseconds(300);
}

/// <summary>Which browser origins may call the REST API (the OpenHands frontend runs on its own origin).</summary>
public sealed record CorsSettings
{
    /// <summary>Exact origins allowed, e.g. <c>https://app.example.com</c>. Empty and no loopback: CORS closed.</summary>
    public string[] AllowedOrigins { get; init; } = [];
    /// <summary>Allow any <c>http(s)://localhost|127.0.0.1|[::1]:port</c> origin (on in the embedded appsettings.json).</summary>
    public bool AllowLoopbackOrigins { get; init; }

    public bool IsAllowed(string origin) =>
        AllowedOrigins.Contains(origin, StringComparer.OrdinalIgnoreCase)
        || AllowLoopbackOrigins && Uri.TryCreate(origin, UriKind.Absolute, out var uri)
           && uri.Scheme is "http" or "https" && uri.IsLoopback;
}

/// <summary>
/// The reverse proxies (ingress, load balancer) in front of this server (<c>ForwardedHeaders:*</c>): only from these is
/// <c>X-Forwarded-For</c> believed, so the client address that failed-auth limits and logs use is the real client's,
/// not the proxy's. None by default: the header is ignored.
/// </summary>
public sealed record ForwardedHeadersSettings
{
    /// <summary>Proxy addresses, e.g. <c>10.0.0.5</c>.</summary>
    public string[] KnownProxies { get; init; } = [];
    /// <summary>Proxy networks in CIDR, e.g. <c>10.0.0.0/8</c>.</summary>
    public string[] KnownNetworks { get; init; } = [];
    /// <summary>How many proxies deep to look into <c>X-Forwarded-For</c>.</summary>
    public int ForwardLimit { get; init; } = 1;

    public bool Enabled => KnownProxies.Length > 0 || KnownNetworks.Length > 0;
}

/// <summary>All settings, bound once from configuration (appsettings, env with __, command line).</summary>
public sealed record GatewaySettings(
    LimitSettings Limits,
    AgentSettings Agent,
    string[] SessionApiKeys,
    AkkaSyncOptions Akka,
    CorsSettings Cors,
    Web.WebSettings Web,
    ForwardedHeadersSettings ForwardedHeaders)
{
    /// <summary>Following upstream agent servers (<c>Upstream:*</c>; the default upstream's key is read by the key store only).</summary>
    public UpstreamSettings Upstream { get; init; } = new();

    public static GatewaySettings From(IConfiguration config, string contentRoot)
    {
        var limits = config.GetSection("Limits").Get<LimitSettings>() ?? new LimitSettings();
        var agent = config.GetSection("Agent").Get<AgentSettings>() ?? new AgentSettings();
        if (agent.Mode is not ("demo" or "external"))
            throw new InvalidOperationException($"Agent:Mode must be demo or external, not '{agent.Mode}'");

        var keys = config.GetSection("Auth:SessionApiKeys").Get<string[]>() ?? [];
        if (config["SESSION_API_KEY"] is { Length: > 0 } envKey) keys = [.. keys, envKey];
        keys = keys.Where(k => !string.IsNullOrEmpty(k)).Distinct().ToArray();

        var provider = Enum.TryParse<PersistenceProvider>(config["Persistence:Provider"] ?? "Sqlite", ignoreCase: true, out var p)
            ? p
            : throw new InvalidOperationException($"Persistence:Provider must be Sqlite or PostgreSql, not '{config["Persistence:Provider"]}'");
        var conversation = ConversationSettings.Default with
        {
            DemoAgent = agent.Mode == "demo",
            DemoStepDelay = agent.DemoStepDelay,
            TailSize = config.GetValue("Limits:TailEvents", ConversationSettings.Default.TailSize),
            SnapshotEvery = config.GetValue("Limits:SnapshotEvery", ConversationSettings.Default.SnapshotEvery),
            IdleTimeout = config.GetValue("Limits:IdleConversationTimeout", ConversationSettings.Default.IdleTimeout),
            MaxSubscribers = limits.MaxSocketsPerConversation,
            ReplayChunkBytes = config.GetValue("Limits:ReplayChunkBytes", ConversationSettings.Default.ReplayChunkBytes),
        };
        var akka = new AkkaSyncOptions
        {
            Cluster = config.GetSection("Cluster").Get<ClusterSettings>() ?? new ClusterSettings(),
            Provider = provider,
            DataDirectory = config["Persistence:DataDirectory"] ?? "./data",
            ConnectionString = config["Persistence:ConnectionString"],
            Conversation = conversation,
            Connection = ConnectionSettings.Default with
            {
                RequestTimeout = limits.AskTimeout,
                MaxCommandsInFlight = limits.MaxCommandsInFlight,
                QuietResync = limits.QuietResync,
            },
            HoconFile = Path.Combine(AppContext.BaseDirectory, "akka.hocon"),
        };
        var cors = new CorsSettings
        {
            AllowedOrigins = config.GetSection("Cors:AllowedOrigins").Get<string[]>() ?? [],
            AllowLoopbackOrigins = config.GetValue("Cors:AllowLoopbackOrigins", false),
        };
        var web = config.GetSection("Web").Get<Web.WebSettings>() ?? new Web.WebSettings();
        var forwarded = config.GetSection("ForwardedHeaders").Get<ForwardedHeadersSettings>() ?? new ForwardedHeadersSettings();
        foreach (var proxy in forwarded.KnownProxies)
            if (!System.Net.IPAddress.TryParse(proxy, out _))
                throw new InvalidOperationException($"ForwardedHeaders:KnownProxies: '{proxy}' is not an IP address");
        foreach (var network in forwarded.KnownNetworks)
            if (!System.Net.IPNetwork.TryParse(network, out _))
                throw new InvalidOperationException($"ForwardedHeaders:KnownNetworks: '{network}' is not a network in CIDR notation (10.0.0.0/8)");
        var upstream = config.GetSection("Upstream").Get<UpstreamSettings>() ?? new UpstreamSettings();
        if (!string.IsNullOrEmpty(upstream.Url))
        {
            if (!UpstreamClient.TryNormalizeUrl(upstream.Url, out var url, out var urlError))
                throw new InvalidOperationException("Upstream:Url: " + urlError);
            upstream = upstream with { Url = url };
        }
        else upstream = upstream with { Url = null };
        upstream = upstream with
        {
            KeyRingDirectory = Path.GetFullPath(upstream.KeyRingDirectory is { Length: > 0 } ring ? ring : Path.Combine(akka.DataDirectory, "keys")),
        };
        return new GatewaySettings(limits, agent, keys, akka, cors, web, forwarded) { Upstream = upstream };
    }
}
