using Akka.Actor;
using Akka.Configuration;
using Akka.Persistence;
using Akka.Persistence.Sql;
using Akka.Sync.Actors.Journal;
using Akka.Sync.Actors.Tests.Support;
using Akka.Sync.Cluster.Tests.Support;
using Xunit;

namespace Akka.Sync.Cluster.Tests;

/// <summary>
/// Recovery's direct reads (<see cref="DirectRecovery"/>, <see cref="DirectSnapshotStore"/>) on a real PostgreSQL: a
/// persistent actor recovers what Akka.Persistence.Sql's own journal and snapshot store recover from the same tables
/// (the SQLite side is <c>DirectRecoveryTests</c> in the actor tests).
/// </summary>
public sealed class PostgresDirectRecoveryTests
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(30);

    private static ActorSystem NewSystem(string name, PostgresServer postgres, bool direct) =>
        ActorSystem.Create(name, ConfigurationFactory.ParseString($$"""
            akka.persistence.journal.plugin = "akka.persistence.journal.sql"
            akka.persistence.journal.sql { connection-string = "{{postgres.ConnectionString}}", provider-name = "PostgreSQL.15", auto-initialize = on }
            akka.persistence.snapshot-store.plugin = "akka.persistence.snapshot-store.sql"
            akka.persistence.snapshot-store.sql { connection-string = "{{postgres.ConnectionString}}", provider-name = "PostgreSQL.15", auto-initialize = on }
            {{(direct ? GroupCommitJournal.Hocon + "\n" + DirectSnapshotStore.Hocon : "")}}
            """).WithFallback(SqlPersistence.DefaultConfiguration));

    private static async Task<T> Run<T>(ActorSystem system, string persistenceId, string command, Recovery? recovery = null)
    {
        var actor = system.ActorOf(RecoveryRecorder.Props(persistenceId, recovery));
        try { return await actor.Ask<T>(command, Bound); }
        finally { await actor.GracefulStop(Bound); }
    }

    [Fact]
    public async Task A_recovery_on_postgresql_sees_what_the_plugins_own_recovery_sees()
    {
        await using var postgres = await PostgresServer.StartAsync();
        const string pid = "recorder-pg";
        Recovery?[] recoveries =
        [
            null,
            new Recovery(SnapshotSelectionCriteria.None),
            new Recovery(new SnapshotSelectionCriteria(5)),
            new Recovery(SnapshotSelectionCriteria.None, long.MaxValue, 2),
            new Recovery(new SnapshotSelectionCriteria(long.MaxValue, DateTime.UtcNow.AddYears(1))),
        ];
        var direct = NewSystem("direct", postgres, direct: true);
        var seen = new List<string>();
        try
        {
            Assert.Equal(4L, await Run<long>(direct, pid, "persist a b c d"));
            Assert.Equal(4L, await Run<long>(direct, pid, "snapshot S4"));
            Assert.Equal(7L, await Run<long>(direct, pid, "persist e f g"));
            Assert.Equal(2L, await Run<long>(direct, pid, "delete 2"));
            var before = DirectRecovery.ReadsIn(direct);
            foreach (var recovery in recoveries) seen.Add(await Run<string>(direct, pid, "log", recovery));
            Assert.True(DirectRecovery.ReadsIn(direct) > before, "the recoveries did not read the direct way");
            Assert.Equal(3L, await Run<long>(direct, "recorder-pg-empty", "persist x y z"));
            Assert.Equal(3L, await Run<long>(direct, "recorder-pg-empty", "delete 3"));
            seen.Add(await Run<string>(direct, "recorder-pg-empty", "log"));
        }
        finally { await direct.Terminate(); }

        Assert.Equal("snapshot S4@4 | e@5 | f@6 | g@7 | done@7", seen[0]);
        Assert.Equal("c@3 | d@4 | e@5 | f@6 | g@7 | done@7", seen[1]);
        Assert.Equal("c@3 | d@4 | done@7", seen[3]);
        Assert.Equal("done@3", seen[^1]); // every row deleted: the highest sequence number survives

        var plugin = NewSystem("plugin", postgres, direct: false);
        try
        {
            for (var i = 0; i < recoveries.Length; i++)
                Assert.Equal(seen[i], await Run<string>(plugin, pid, "log", recoveries[i]));
            Assert.Equal(seen[^1], await Run<string>(plugin, "recorder-pg-empty", "log"));
            Assert.Equal(0, DirectRecovery.ReadsIn(plugin));
        }
        finally { await plugin.Terminate(); }
    }
}
