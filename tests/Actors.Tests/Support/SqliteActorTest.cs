using Akka.Actor;
using Akka.Configuration;
using Akka.Persistence.Sql;
using Akka.Sync.Actors.Conversations;
using Akka.Sync.Protocol;
using Microsoft.Data.Sqlite;
using Xunit;
using Xunit.Abstractions;
using static Akka.Sync.Protocol.ConversationCommands;
using static Akka.Sync.Protocol.ConversationQueries;
using static Akka.Sync.Protocol.ConversationReplies;

namespace Akka.Sync.Actors.Tests.Support;

/// <summary>
/// A TestKit whose ActorSystem persists to a real SQLite file in a temp directory of its own (journal,
/// snapshots and the query side), with every <see cref="ISyncMessage"/> bound to the product's serializer.
/// </summary>
public abstract class SqliteActorTest : Akka.TestKit.Xunit2.TestKit
{
    /// <summary>The bound of every wait: generous for a loaded 2-core machine, far below the suite's patience.</summary>
    protected static readonly TimeSpan Wait = TimeSpan.FromSeconds(15);

    protected string DataDirectory { get; }
    protected string DatabaseFile => Path.Combine(DataDirectory, "test.db");

    protected SqliteActorTest(ITestOutputHelper output) : this(NewDirectory(), output, "") { }

    /// <summary>With more HOCON on top of the SQLite setup (e.g. a cluster provider for a real shard region).</summary>
    protected SqliteActorTest(ITestOutputHelper output, string hocon) : this(NewDirectory(), output, hocon) { }

    /// <summary>With more HOCON that depends on the test's directory (e.g. another connection string for its file).</summary>
    protected SqliteActorTest(ITestOutputHelper output, Func<string, string> hoconForDatabaseFile)
        : this(NewDirectory(), output, hoconForDatabaseFile) { }

    private SqliteActorTest(string dir, ITestOutputHelper output, Func<string, string> hoconFor)
        : this(dir, output, hoconFor(Path.Combine(dir, "test.db"))) { }

    private SqliteActorTest(string dir, ITestOutputHelper output, string hocon)
        : base(ConfigurationFactory.ParseString(hocon).WithFallback(Config(dir)), "actors", output)
    {
        DataDirectory = dir;
    }

    private static string NewDirectory()
    {
        var dir = Path.Combine(Path.GetTempPath(), "akka-sync-actor-tests", Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(dir);
        // WAL, as the server runs its SQLite file (AkkaSyncHosting.PrepareSqlite).
        using var connection = new SqliteConnection($"Data Source={Path.Combine(dir, "test.db")};Pooling=False");
        connection.Open();
        using var command = connection.CreateCommand();
        command.CommandText = "PRAGMA journal_mode=WAL;";
        command.ExecuteNonQuery();
        return dir;
    }

    private static Config Config(string dir)
    {
        var cs = $"Data Source={Path.Combine(dir, "test.db")}";
        return ConfigurationFactory.ParseString($$"""
            akka.loglevel = INFO
            akka.actor.serializers.akka-sync = "Akka.Sync.Actors.Serialization.SyncSerializer, Akka.Sync.Actors"
            akka.actor.serialization-bindings { "Akka.Sync.Protocol.ISyncMessage, Akka.Sync.Protocol" = akka-sync }
            akka.persistence.journal.plugin = "akka.persistence.journal.sql"
            akka.persistence.journal.sql { connection-string = "{{cs}}", provider-name = "SQLite.MS" }
            {{Akka.Sync.Actors.Journal.GroupCommitJournal.Hocon}}
            {{Akka.Sync.Actors.Journal.DirectSnapshotStore.Hocon}}
            {{Akka.Sync.Actors.Journal.SqliteReads.Hocon}}
            akka.persistence.snapshot-store.plugin = "akka.persistence.snapshot-store.sql"
            akka.persistence.snapshot-store.sql { connection-string = "{{cs}}", provider-name = "SQLite.MS" }
            akka.persistence.query.journal.sql { connection-string = "{{cs}}", provider-name = "SQLite.MS" }
            """)
            .WithFallback(SqlPersistence.DefaultConfiguration)
            .WithFallback(SqlPersistence.DefaultQueryConfiguration);
    }

    protected static ConversationSettings Settings(int tail = 2000, int snapshotEvery = 1000, int chunk = 500, TimeSpan? idle = null) =>
        ConversationSettings.Default with
        {
            DemoAgent = false,
            TailSize = tail,
            SnapshotEvery = snapshotEvery,
            ReplayChunk = chunk,
            IdleTimeout = idle ?? TimeSpan.FromMinutes(5),
            AbsentIdleTimeout = idle ?? TimeSpan.FromMinutes(5),
        };

    /// <summary>A stand-in for the shard region: one child entity per conversation (see <see cref="EntityParent"/>).</summary>
    protected IActorRef Region(ConversationSettings settings, IActorRef? directory = null) =>
        Sys.ActorOf(Props.Create(() => new EntityParent(settings, directory ?? CreateTestProbe().Ref)));

    protected static IncomingEvent Event(string kind = "MessageEvent", string source = "agent", string? id = null, string body = "{}") =>
        new(kind, source, id, System.Text.Encoding.UTF8.GetBytes(body));

    protected static IncomingEvent[] Events(int n) => Enumerable.Range(0, n).Select(_ => Event()).ToArray();

    protected static long[] Seqs(long from, long to) => Enumerable.Range((int)from, (int)(to - from + 1)).Select(i => (long)i).ToArray();

    // ---- conversation helpers (each waits for its answer) ----

    protected ConversationId CreateConversation(IActorRef region)
    {
        var id = ConversationId.New();
        region.Tell(new Create(id, Dialect.V1, "t", null, ConversationState.HashKey("k")));
        Assert.Equal(ResultCode.Created, ExpectMsg<CreateResult>(Wait).Code);
        return id;
    }

    protected AppendResult Append(IActorRef region, ConversationId id, params IncomingEvent[] events)
    {
        region.Tell(new AppendEvents(id, events));
        return ExpectMsg<AppendResult>(Wait);
    }

    protected AppendedItem[] AppendOk(IActorRef region, ConversationId id, int n)
    {
        var result = Append(region, id, Events(n));
        Assert.Equal(ResultCode.Ok, result.Code);
        return result.Items;
    }

    protected long Count(IActorRef region, ConversationId id)
    {
        region.Tell(new CountEvents(id, ConversationQueries.EventFilter.None));
        return ExpectMsg<EventCount>(Wait).Count;
    }

    /// <summary>
    /// The next <paramref name="count"/> events a subscriber is sent, whether one write arrives as a single
    /// <see cref="EventEnvelope"/> or as one <see cref="ConversationSubscription.EventsPublished"/>.
    /// </summary>
    protected static EventEnvelope[] ExpectPublished(Akka.TestKit.TestProbe subscriber, int count)
    {
        var events = new List<EventEnvelope>();
        while (events.Count < count)
        {
            switch (subscriber.ExpectMsg<object>(Wait))
            {
                case EventEnvelope e: events.Add(e); break;
                case ConversationSubscription.EventsPublished p: events.AddRange(p.Events); break;
                case var other: throw new InvalidOperationException($"expected published events, got {other}");
            }
        }
        return events.ToArray();
    }

    /// <summary>Stops the entity's current incarnation and waits until it is gone (the next message starts a fresh one).</summary>
    protected void RestartEntity(IActorRef region, ConversationId id)
    {
        region.Tell(new EntityParent.GetEntity(id));
        var entity = ExpectMsg<EntityParent.Entity>(Wait).Ref ?? throw new InvalidOperationException("no running entity");
        var watcher = CreateTestProbe();
        watcher.Watch(entity);
        region.Tell(new EntityParent.StopEntity(id));
        watcher.ExpectTerminated(entity, Wait);
    }

    // ---- the SQLite file, read and changed behind the actors' backs ----

    protected SqliteConnection OpenDatabase()
    {
        var connection = new SqliteConnection($"Data Source={DatabaseFile};Pooling=False");
        connection.Open();
        return connection;
    }

    protected long Scalar(string sql, string persistenceId)
    {
        using var connection = OpenDatabase();
        using var command = connection.CreateCommand();
        command.CommandText = sql;
        command.Parameters.AddWithValue("$p", persistenceId);
        return (long)command.ExecuteScalar()!;
    }

    /// <summary>Rows the journal holds for a conversation (log entries and conversation events alike).</summary>
    protected long JournalRows(ConversationId id) =>
        Scalar("SELECT COUNT(*) FROM journal WHERE persistence_id = $p", ConversationActor.PersistenceIdOf(id));

    protected long SnapshotRows(ConversationId id) =>
        Scalar("SELECT COUNT(*) FROM snapshot WHERE persistence_id = $p", ConversationActor.PersistenceIdOf(id));

    protected void Execute(string sql)
    {
        using var connection = OpenDatabase();
        using var command = connection.CreateCommand();
        command.CommandText = sql;
        command.ExecuteNonQuery();
    }

    protected override void AfterAll()
    {
        base.AfterAll();
        SqliteConnection.ClearAllPools();
        try { Directory.Delete(DataDirectory, recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
    }
}
