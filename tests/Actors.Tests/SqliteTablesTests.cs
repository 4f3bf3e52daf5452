using Akka.Actor;
using Akka.Configuration;
using Akka.Persistence;
using Akka.Sync.Actors.Journal;
using Akka.Sync.Actors.Tests.Support;
using Microsoft.Data.Sqlite;
using Xunit;
using Xunit.Abstractions;

namespace Akka.Sync.Actors.Tests;

/// <summary>
/// The plugin's SQLite tables created directly (<see cref="SqliteTables"/>): the same schema, statement for statement, as
/// Akka.Persistence.Sql's own auto-initialisation creates; the plugin's turned off only then; an existing database and any
/// other layout left as they are.
/// </summary>
public sealed class SqliteTablesTests(ITestOutputHelper output) : SqliteActorTest(output)
{
    /// <summary>Persists one event when asked; its recovery makes the journal and the snapshot store initialise.</summary>
    private sealed class OneEvent(string persistenceId) : UntypedPersistentActor
    {
        public override string PersistenceId => persistenceId;
        protected override void OnRecover(object message) { }
        protected override void OnCommand(object message) => Persist(message, _ => Sender.Tell(LastSequenceNr));
    }

    private string NewFile(string name) => Path.Combine(DataDirectory, name);

    private static string ConnectionString(string file) => $"Data Source={file}";

    private Config Section(string path, string file) =>
        ConfigurationFactory.ParseString($"connection-string = \"{ConnectionString(file)}\"").WithFallback(Sys.Settings.Config.GetConfig(path));

    private static List<string> Schema(string file)
    {
        using var connection = new SqliteConnection(ConnectionString(file) + ";Pooling=False");
        connection.Open();
        using var command = connection.CreateCommand();
        command.CommandText = "SELECT type || ' ' || name || ' ON ' || tbl_name || ': ' || IFNULL(sql, '(implicit)') FROM sqlite_master ORDER BY type, name";
        using var reader = command.ExecuteReader();
        var rows = new List<string>();
        while (reader.Read()) rows.Add(reader.GetString(0));
        return rows;
    }

    /// <summary>What the plugin itself creates on <paramref name="file"/>: a system with its own journal and snapshot store classes.</summary>
    private async Task CreateWithThePlugin(string file)
    {
        var cs = ConnectionString(file);
        var system = ActorSystem.Create("plugin", ConfigurationFactory.ParseString($"""
            akka.persistence.journal.sql.class = "Akka.Persistence.Sql.Journal.SqlWriteJournal, Akka.Persistence.Sql"
            akka.persistence.snapshot-store.sql.class = "Akka.Persistence.Sql.Snapshot.SqlSnapshotStore, Akka.Persistence.Sql"
            akka.persistence.journal.sql.connection-string = "{cs}"
            akka.persistence.snapshot-store.sql.connection-string = "{cs}"
            """).WithFallback(Sys.Settings.Config));
        try
        {
            var actor = system.ActorOf(Props.Create(() => new OneEvent("one")));
            Assert.Equal(1L, await actor.Ask<long>("e", Wait));
        }
        finally { await system.Terminate(); }
    }

    [Fact]
    public async Task The_tables_created_directly_are_the_ones_the_plugin_creates_and_its_own_creation_is_turned_off()
    {
        var byPlugin = NewFile("plugin.db");
        await CreateWithThePlugin(byPlugin);

        var direct = NewFile("direct.db");
        var journal = SqliteTables.TakeOverJournal(Section("akka.persistence.journal.sql", direct), out var journalFailure);
        var snapshots = SqliteTables.TakeOverSnapshots(Section("akka.persistence.snapshot-store.sql", direct), out var snapshotFailure);
        Assert.Null(journalFailure);
        Assert.Null(snapshotFailure);
        Assert.False(journal.GetBoolean("auto-initialize", true));
        Assert.False(snapshots.GetBoolean("auto-initialize", true));

        var expected = Schema(byPlugin);
        Assert.Contains(expected, r => r.StartsWith("table journal ", StringComparison.Ordinal));
        Assert.Contains(expected, r => r.StartsWith("table snapshot ", StringComparison.Ordinal));
        Assert.Equal(expected, Schema(direct));
    }

    [Fact]
    public async Task This_test_systems_own_journal_created_its_tables_directly_and_writes_and_recovers_through_them()
    {
        // Sys runs GroupCommitJournal and DirectSnapshotStore: its database's schema is the plugin's, and it works.
        var actor = Sys.ActorOf(Props.Create(() => new OneEvent("mine")));
        Assert.Equal(1L, await actor.Ask<long>("e", Wait));
        await actor.GracefulStop(Wait);
        var again = Sys.ActorOf(Props.Create(() => new OneEvent("mine")));
        Assert.Equal(2L, await again.Ask<long>("e", Wait));

        var byPlugin = NewFile("plugin.db");
        await CreateWithThePlugin(byPlugin);
        Assert.Equal(Schema(byPlugin), Schema(DatabaseFile));
        var journal = SqliteTables.TakeOverJournal(Sys.Settings.Config.GetConfig("akka.persistence.journal.sql"), out var failure);
        Assert.Null(failure);
        Assert.False(journal.GetBoolean("auto-initialize", true)); // and again on an existing database: nothing changes
        Assert.Equal(Schema(byPlugin), Schema(DatabaseFile));
    }

    [Theory]
    [InlineData("default.journal.table-name = events")]
    [InlineData("default.schema-name = other")]
    [InlineData("table-mapping = sqlite")]
    [InlineData("auto-initialize = off")]
    [InlineData("delete-compatibility-mode = on")]
    [InlineData("tag-write-mode = Csv")]
    [InlineData("default.journal.columns.created = ts")]
    [InlineData("default.tag.table-name = labels")]
    [InlineData("provider-name = PostgreSQL.15")]
    public void Any_other_journal_layout_is_left_to_the_plugin(string change)
    {
        var file = NewFile("other.db");
        var section = ConfigurationFactory.ParseString(change).WithFallback(Section("akka.persistence.journal.sql", file));
        var result = SqliteTables.TakeOverJournal(section, out var failure);
        Assert.Null(failure);
        Assert.Same(section, result);
        Assert.DoesNotContain(Schema(file), r => r.StartsWith("table journal", StringComparison.Ordinal));
    }

    [Fact]
    public void A_database_that_cannot_be_written_is_left_to_the_plugin_with_the_reason()
    {
        var file = NewFile("locked.db");
        using (var holder = new SqliteConnection(ConnectionString(file) + ";Pooling=False"))
        {
            holder.Open();
            using var exclusive = holder.CreateCommand();
            exclusive.CommandText = "PRAGMA locking_mode = EXCLUSIVE; BEGIN EXCLUSIVE;";
            exclusive.ExecuteNonQuery();
            var section = ConfigurationFactory.ParseString($"connection-string = \"{ConnectionString(file)};Default Timeout=1\"")
                .WithFallback(Sys.Settings.Config.GetConfig("akka.persistence.snapshot-store.sql"));
            var result = SqliteTables.TakeOverSnapshots(section, out var failure);
            Assert.IsType<SqliteException>(failure);
            Assert.Same(section, result); // the plugin's own auto-initialisation stays on
        }
    }
}
