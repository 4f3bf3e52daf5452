using Akka.Actor;
using Akka.Cluster;
using Akka.Cluster.Hosting;
using Akka.Configuration;
using Akka.Hosting;
using Akka.Persistence.Sql.Hosting;
using Akka.Remote.Hosting;
using Akka.Sync.Actors.Connections;
using Akka.Sync.Actors.Conversations;
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
    public string ClusterHost { get; init; } = "127.0.0.1";
    /// <summary>0 picks a free port (the embedded one-node default, and every test).</summary>
    public int ClusterPort { get; init; }
    /// <summary>Empty: this node forms a cluster of its own.</summary>
    public string[] SeedNodes { get; init; } = [];
    public PersistenceProvider Provider { get; init; } = PersistenceProvider.Sqlite;
    public string DataDirectory { get; init; } = "./data";
    public string? ConnectionString { get; init; }
    public ConversationSettings Conversation { get; init; } = ConversationSettings.Default;
    public ConnectionSettings Connection { get; init; } = ConnectionSettings.Default;
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

        builder
            .ConfigureLoggers(l =>
            {
                l.ClearLoggers();
                l.AddLoggerFactory();
            })
            .WithRemoting(options.ClusterHost, options.ClusterPort)
            .WithClustering(new ClusterOptions
            {
                Roles = [ConversationHosting.Role],
                SeedNodes = options.SeedNodes.Length > 0 ? options.SeedNodes : null,
            })
            .WithSqlPersistence(connectionString, providerName)
            .WithCustomSerializer("akka-sync", [typeof(ISyncMessage)], system => new SyncSerializer(system))
            .AddConversationDirectory()
            .AddConversationSharding(options.Conversation);

        if (options.SeedNodes.Length == 0)
        {
            builder.AddStartup(async (system, _) =>
            {
                var cluster = Akka.Cluster.Cluster.Get(system);
                await cluster.JoinAsync(cluster.SelfAddress);
            });
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
