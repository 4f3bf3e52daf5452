using Akka.Actor;
using Akka.Cluster;
using Akka.Cluster.Hosting;
using Akka.Configuration;
using Akka.Hosting;
using Akka.Persistence.Sql.Hosting;
using Akka.Remote.Hosting;
using Akka.Sync.Actors.Connections;
using Akka.Sync.Actors.Conversations;
using Akka.Sync.Actors.Following;
using Akka.Sync.Actors.Preferences;
using Akka.Sync.Actors.Serialization;
using Akka.Sync.Protocol;
using Microsoft.Data.Sqlite;

namespace Akka.Sync.Actors.Hosting;

public enum PersistenceProvider
{
    Sqlite,
    PostgreSql,
}

/// <summary>Everything environment-specific the actor system needs, bound from configuration by the Gateway.</summary>
public sealed record AkkaSyncOptions
{
    public string SystemName { get; init; } = "akka-sync";
    public ClusterSettings Cluster { get; init; } = new();
    public PersistenceProvider Provider { get; init; } = PersistenceProvider.Sqlite;
    public string DataDirectory { get; init; } = "./data";
    public string? ConnectionString { get; init; }
    public ConversationSettings Conversation { get; init; } = ConversationSettings.Default;
    public ConnectionSettings Connection { get; init; } = ConnectionSettings.Default;
    /// <summary>What followers of upstream agent servers share (null: this node follows none).</summary>
    public Following.UpstreamServices? Upstream { get; init; }
    /// <summary>Static Akka tuning (akka.hocon), layered under what code sets.</summary>
    public string? HoconFile { get; init; }

    public string SqliteFile => Path.GetFullPath(Path.Combine(DataDirectory, "akka-sync.db"));

    public (string ConnectionString, string ProviderName) Journal => Provider switch
    {
        PersistenceProvider.PostgreSql => (ConnectionString ?? throw new InvalidOperationException(
            "Persistence:ConnectionString is required with Persistence:Provider=PostgreSql"), "PostgreSQL.15"),
        _ => ($"Data Source={SqliteFile};Pooling=True", "SQLite.MS"),
    };
}

public enum ClusterDiscovery
{
    /// <summary>Static <see cref="ClusterSettings.SeedNodes"/>; none: the node forms a cluster of its own.</summary>
    None,
    /// <summary>Seed nodes found through Akka.Discovery's config method: a static endpoint list (<see cref="ClusterSettings.DiscoveryEndpoints"/>).</summary>
    Config,
    /// <summary>Seed nodes found through the Kubernetes API: the running pods matching a label selector.</summary>
    Kubernetes,
}

/// <summary>How this node finds and stays in its cluster; bound from the <c>Cluster</c> configuration section.</summary>
public sealed record ClusterSettings
{
    /// <summary>Address remoting binds to (0.0.0.0 in a container).</summary>
    public string Host { get; init; } = "127.0.0.1";
    /// <summary>Address other nodes use to reach this one, when it differs from <see cref="Host"/> (the pod IP).</summary>
    public string? PublicHost { get; init; }
    /// <summary>Remoting port; 0 picks a free port (the embedded one-node default, and every test).</summary>
    public int Port { get; init; }
    /// <summary>Static seed nodes, e.g. <c>akka.tcp://akka-sync@10.0.0.1:4053</c>. Empty (and no discovery): a cluster of one.</summary>
    public string[] SeedNodes { get; init; } = [];
    public ClusterDiscovery Discovery { get; init; } = ClusterDiscovery.None;
    /// <summary>The name discovery looks up (Config) and the value of <c>{0}</c> in the pod label selector (Kubernetes).</summary>
    public string ServiceName { get; init; } = "akka-sync";
    /// <summary>Nodes discovery must see before they are used as seed nodes (the lowest address forms the cluster).</summary>
    public int RequiredContactPoints { get; init; } = 2;
    /// <summary>Config discovery: the remoting endpoints (<c>host:port</c>) of every node.</summary>
    public string[] DiscoveryEndpoints { get; init; } = [];
    /// <summary>Kubernetes discovery: the name of the pods' container port that remoting listens on.</summary>
    public string KubernetesPortName { get; init; } = "remoting";
    /// <summary>Kubernetes API base URL; empty: the in-cluster address from <c>KUBERNETES_SERVICE_HOST</c>/<c>_PORT</c>.</summary>
    public string? KubernetesApiUrl { get; init; }
    public string KubernetesPodLabelSelector { get; init; } = "app={0}";
    public string? KubernetesNamespace { get; init; }
    /// <summary>Split Brain Resolver: how long membership must be stable before it downs the unreachable side.</summary>
    public TimeSpan? StableAfter { get; init; }
    /// <summary>How long survivors wait after a node is downed before taking over its shards and singletons.</summary>
    public TimeSpan? DownRemovalMargin { get; init; }
    public TimeSpan? HeartbeatInterval { get; init; }
    /// <summary>Silence tolerated before a node is marked unreachable (keep it ≥ 2 s on small machines).</summary>
    public TimeSpan? AcceptableHeartbeatPause { get; init; }
    /// <summary>
    /// Sockets subscribe through one relay per conversation per node, so a write crosses to each node once, not once per
    /// socket (<see cref="Connections.ConversationRelay"/>). False: every socket subscribes to its conversation itself,
    /// as before the relay existed (kept to measure the difference).
    /// </summary>
    public bool NodeRelay { get; init; } = true;

    /// <summary>The failure-handling overrides as HOCON, layered over akka.hocon's production defaults.</summary>
    internal string ToHocon()
    {
        var lines = new List<string>();
        if (StableAfter is { } s) lines.Add($"akka.cluster.split-brain-resolver.stable-after = {Ms(s)}");
        if (DownRemovalMargin is { } m) lines.Add($"akka.cluster.down-removal-margin = {Ms(m)}");
        if (HeartbeatInterval is { } h) lines.Add($"akka.cluster.failure-detector.heartbeat-interval = {Ms(h)}");
        if (AcceptableHeartbeatPause is { } p) lines.Add($"akka.cluster.failure-detector.acceptable-heartbeat-pause = {Ms(p)}");
        return string.Join('\n', lines);
    }

    private static string Ms(TimeSpan t) => $"{(long)t.TotalMilliseconds}ms";
}

public static class AkkaSyncHosting
{
    /// <summary>
    /// The whole actor side: remoting, a cluster (joining itself when no seeds are given), the SQL journal,
    /// the serializer binding, conversation sharding and the conversation directory.
    /// </summary>
    public static AkkaConfigurationBuilder AddAkkaSync(this AkkaConfigurationBuilder builder, AkkaSyncOptions options)
    {
        if (options.HoconFile is { } hocon && File.Exists(hocon))
            builder.AddHocon(ConfigurationFactory.ParseString(File.ReadAllText(hocon)), HoconAddMode.Append);
        if (options.Provider == PersistenceProvider.Sqlite) PrepareSqlite(options.SqliteFile);
        var (connectionString, providerName) = options.Journal;

        var cluster = options.Cluster;
        builder
            .ConfigureLoggers(l =>
            {
                l.ClearLoggers();
                l.AddLoggerFactory();
            })
            .WithRemoting(new RemoteOptions
            {
                HostName = cluster.Host,
                Port = cluster.Port,
                PublicHostName = cluster.PublicHost,
            })
            .WithClustering(new ClusterOptions
            {
                Roles = [ConversationHosting.Role],
                SeedNodes = cluster.SeedNodes.Length > 0 ? cluster.SeedNodes : null,
            })
            .WithSqlPersistence(connectionString, providerName)
            .AddHocon(Journal.GroupCommitJournal.Hocon, HoconAddMode.Prepend)
            .AddHocon(Journal.DirectSnapshotStore.Hocon, HoconAddMode.Prepend)
            .AddHocon(options.Provider == PersistenceProvider.Sqlite ? Journal.SqliteReads.Hocon : "", HoconAddMode.Prepend)
            .WithCustomSerializer("akka-sync", [typeof(ISyncMessage)], system => new SyncSerializer(system))
            .AddConversationDirectory()
            .AddClientPreferences()
            .AddSingletonWatch()
            .AddConversationSharding(options.Conversation, upstream: options.Upstream)
            .AddConversationRelays(options.Connection);
        if (options.Upstream is { } upstream) builder.AddUpstreamKeeper(upstream.Settings);
        if (cluster.ToHocon() is { Length: > 0 } tuning)
            builder.AddHocon(ConfigurationFactory.ParseString(tuning), HoconAddMode.Prepend);
        builder.AddHocon(ConfigurationFactory.ParseString(Connections.ConnectionMailbox.Hocon), HoconAddMode.Append);

        switch (cluster.Discovery)
        {
            case ClusterDiscovery.None when cluster.SeedNodes.Length == 0:
                // The embedded default: a cluster of one, formed at once.
                builder.AddStartup(async (system, _) =>
                {
                    var self = Akka.Cluster.Cluster.Get(system);
                    await self.JoinAsync(self.SelfAddress);
                });
                break;
            case ClusterDiscovery.None:
                break; // static seed nodes: Akka joins them (the first seed forms the cluster if it is alone)
            default:
                builder.AddDiscoveredSeedNodes(cluster, options.SystemName);
                break;
        }
        return builder;
    }

    /// <summary>
    /// Creates the SQLite folder and switches the file to WAL, so replay reads do not wait on writes.
    /// The journal's tables are created by Akka.Persistence.Sql itself.
    /// </summary>
    private static void PrepareSqlite(string file)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(file)!);
        using var connection = new SqliteConnection($"Data Source={file}");
        connection.Open();
        using var command = connection.CreateCommand();
        command.CommandText = "PRAGMA journal_mode=WAL;";
        command.ExecuteNonQuery();
    }
}
