using Akka.Actor;
using Akka.Configuration;
using Akka.Persistence;
using Akka.Sync.Actors.Journal;
using Akka.Sync.Actors.Tests.Support;
using Xunit;
using Xunit.Abstractions;

namespace Akka.Sync.Actors.Tests;

/// <summary>
/// Recovery's reads as plain SQL (<see cref="DirectRecovery"/>, <see cref="DirectSnapshotStore"/>): on the same SQLite
/// file, a persistent actor recovers exactly what Akka.Persistence.Sql's own journal and snapshot store recover —
/// snapshots chosen by criteria, deleted rows skipped, the highest sequence number kept after a delete, replay limits,
/// rows written by the group commit and by the plugin (tagged) alike — and the reads went the direct way.
/// </summary>
public sealed class DirectRecoveryTests(ITestOutputHelper output) : SqliteActorTest(output)
{
    private static async Task<T> Command<T>(ActorSystem system, string persistenceId, string command)
    {
        var actor = system.ActorOf(RecoveryRecorder.Props(persistenceId));
        try { return await actor.Ask<T>(command, Wait); }
        finally { await actor.GracefulStop(Wait); }
    }

    /// <summary>What a fresh incarnation of the actor recovers with <paramref name="recovery"/>, and the seq its next write gets.</summary>
    private static async Task<string> Recover(ActorSystem system, string persistenceId, Recovery? recovery = null)
    {
        var actor = system.ActorOf(RecoveryRecorder.Props(persistenceId, recovery));
        try { return await actor.Ask<string>("log", Wait); }
        finally { await actor.GracefulStop(Wait); }
    }

    /// <summary>A second system on the same file with Akka.Persistence.Sql's own journal and snapshot store classes.</summary>
    private ActorSystem PluginSystem() => ActorSystem.Create("plugin", ConfigurationFactory.ParseString("""
        akka.persistence.journal.sql.class = "Akka.Persistence.Sql.Journal.SqlWriteJournal, Akka.Persistence.Sql"
        akka.persistence.snapshot-store.sql.class = "Akka.Persistence.Sql.Snapshot.SqlSnapshotStore, Akka.Persistence.Sql"
        """).WithFallback(Sys.Settings.Config));

    private static readonly (string Name, Recovery? Recovery)[] Recoveries =
    [
        ("default", null),
        ("no snapshot", new Recovery(SnapshotSelectionCriteria.None)),
        ("snapshot at or below 5", new Recovery(new SnapshotSelectionCriteria(5))),
        ("snapshot before the first", new Recovery(new SnapshotSelectionCriteria(2))),
        ("replay at most 2", new Recovery(SnapshotSelectionCriteria.None, long.MaxValue, 2)),
        ("replay up to 5", new Recovery(SnapshotSelectionCriteria.None, 5)),
        ("snapshot by timestamp", new Recovery(new SnapshotSelectionCriteria(long.MaxValue, DateTime.UtcNow.AddYears(1)))),
        ("none", Recovery.None),
    ];

    [Fact]
    public async Task A_recovery_sees_what_the_plugins_own_recovery_sees_and_reads_the_direct_way()
    {
        const string pid = "recorder-1";
        Assert.Equal(2L, await Command<long>(Sys, pid, "persist a b"));
        Assert.Equal(3L, await Command<long>(Sys, pid, "tagged c"));
        Assert.Equal(4L, await Command<long>(Sys, pid, "persist d"));
        Assert.Equal(4L, await Command<long>(Sys, pid, "snapshot S4"));
        Assert.Equal(6L, await Command<long>(Sys, pid, "persist e f"));
        Assert.Equal(6L, await Command<long>(Sys, pid, "snapshot S6"));
        Assert.Equal(7L, await Command<long>(Sys, pid, "persist g"));
        Assert.Equal(2L, await Command<long>(Sys, pid, "delete 2"));

        var before = DirectRecovery.ReadsIn(Sys);
        var direct = new List<string>();
        foreach (var (_, recovery) in Recoveries) direct.Add(await Recover(Sys, pid, recovery));
        Assert.True(DirectRecovery.ReadsIn(Sys) > before, "the recoveries did not read the direct way");

        var plugin = PluginSystem();
        try
        {
            foreach (var ((name, recovery), i) in Recoveries.Select((r, i) => (r, i)))
                Assert.True(direct[i] == await Recover(plugin, pid, recovery), $"{name}: direct '{direct[i]}'");
            Assert.Equal(0, DirectRecovery.ReadsIn(plugin));
        }
        finally { await plugin.Terminate(); }

        // What the plugin recovers, spelled out: the newest snapshot, then the rows after it; deleted rows skipped.
        Assert.Equal("snapshot S6@6 | g@7 | done@7", direct[0]);
        Assert.Equal("c@3 | d@4 | e@5 | f@6 | g@7 | done@7", direct[1]);
        Assert.Equal("snapshot S4@4 | e@5 | f@6 | g@7 | done@7", direct[2]);
        Assert.Equal("c@3 | d@4 | done@7", direct[4]);
        Assert.Equal("c@3 | d@4 | e@5 | done@7", direct[5]);
    }

    [Fact]
    public async Task After_every_row_is_deleted_the_highest_sequence_number_survives_and_the_next_write_follows_it()
    {
        const string pid = "recorder-2";
        Assert.Equal(3L, await Command<long>(Sys, pid, "persist a b c"));
        Assert.Equal(3L, await Command<long>(Sys, pid, "delete 3"));

        var before = DirectRecovery.ReadsIn(Sys);
        Assert.Equal("done@3", await Recover(Sys, pid));
        Assert.True(DirectRecovery.ReadsIn(Sys) > before);
        Assert.Equal(4L, await Command<long>(Sys, pid, "persist d"));
        Assert.Equal("d@4 | done@4", await Recover(Sys, pid));

        var plugin = PluginSystem();
        try { Assert.Equal("d@4 | done@4", await Recover(plugin, pid)); }
        finally { await plugin.Terminate(); }
    }

    [Fact]
    public async Task A_persistence_id_with_nothing_stored_recovers_empty()
    {
        Assert.Equal("done@0", await Recover(Sys, "recorder-never"));
        Assert.Equal(1L, await Command<long>(Sys, "recorder-never", "persist first"));
    }

    [Fact]
    public void Another_table_layout_keeps_the_plugins_reads()
    {
        var journal = Sys.Settings.Config.GetConfig("akka.persistence.journal.sql");
        Assert.NotNull(DirectRecovery.ForJournal(journal, Sys, null));
        Assert.Null(DirectRecovery.ForJournal(ConfigurationFactory.ParseString("delete-compatibility-mode = true").WithFallback(journal), Sys, null));
        Assert.Null(DirectRecovery.ForJournal(ConfigurationFactory.ParseString("default.journal.columns.created = ts").WithFallback(journal), Sys, null));
        Assert.Null(DirectRecovery.ForJournal(ConfigurationFactory.ParseString("table-mapping = sqlite").WithFallback(journal), Sys, null));
        Assert.Null(DirectRecovery.ForJournal(ConfigurationFactory.ParseString("provider-name = SqlServer").WithFallback(journal), Sys, null));
    }
}
