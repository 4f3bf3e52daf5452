using Akka.Configuration;
using Akka.Sync.Actors.Journal;
using Akka.Sync.Cluster.Tests.Support;
using Npgsql;
using Xunit;

namespace Akka.Sync.Cluster.Tests;

/// <summary>
/// The journal's group-commit writer (<see cref="JournalRowWriter"/>) on a real PostgreSQL: writes that wait while a
/// batch runs share the next one; a write that collides with a stored row fails alone and whole. (The SQLite side is in
/// the actor tests; every cluster test writes through this path too.)
/// </summary>
public sealed class PostgresJournalWriterTests
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(30);

    /// <summary>A PostgreSQL whose journal tables the plugin has created (one node, one conversation), and a writer on it.</summary>
    private static async Task<(PostgresServer Postgres, JournalRowWriter Writer, string StoredId)> StartAsync()
    {
        var postgres = await PostgresServer.StartAsync();
        string id;
        await using (var cluster = await TestCluster.StartAsync(postgres, 1))
            id = await TestCluster.CreateConversationAsync(cluster.Nodes[0], "tables");
        var config = ConfigurationFactory.ParseString($"connection-string = \"{postgres.ConnectionString}\"\nprovider-name = \"PostgreSQL.15\"");
        var writer = JournalRowWriter.TryCreate(config, "test") ?? throw new InvalidOperationException("default mapping on PostgreSQL");
        return (postgres, writer, "conversation-" + id);
    }

    private static JournalRowWriter.Row Row(string persistenceId, long seq) =>
        new(persistenceId, seq, DateTime.UtcNow.Ticks, "m", [1, 2, 3], 42);

    /// <summary>Locks the journal table against inserts on another connection, until disposed.</summary>
    private static async Task<NpgsqlConnection> LockJournalAsync(PostgresServer postgres)
    {
        var connection = new NpgsqlConnection(postgres.ConnectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand("BEGIN; LOCK TABLE journal IN SHARE ROW EXCLUSIVE MODE;", connection);
        await command.ExecuteNonQueryAsync();
        return connection;
    }

    private static Task WaitUntilCommittingAsync(JournalRowWriter writer) =>
        Eventually.HoldsAsync(() => Task.FromResult(writer.Committing), committing => committing, Bound,
            _ => "the writer never started its first batch");

    [Fact]
    public async Task Writes_that_wait_while_a_batch_runs_are_committed_together_in_the_next_one()
    {
        var (postgres, writer, _) = await StartAsync();
        await using var _pg = postgres;
        using var _w = writer;
        Task first;
        Task[] rest;
        await using (await LockJournalAsync(postgres))
        {
            first = writer.WriteAsync([Row("group-0", 1)]);
            await WaitUntilCommittingAsync(writer);
            rest = Enumerable.Range(1, 20).Select(i => writer.WriteAsync([Row($"group-{i}", 1), Row($"group-{i}", 2)])).ToArray();
            Assert.False(first.IsCompleted);
        }

        await Task.WhenAll(rest.Append(first)).WaitAsync(Bound);
        Assert.Equal(2, writer.Commits);
        Assert.Equal(41L, await postgres.ScalarAsync<long>("SELECT COUNT(*) FROM journal WHERE persistence_id LIKE 'group-%'"));
    }

    [Fact]
    public async Task A_write_that_collides_with_a_stored_row_fails_alone_and_whole_and_the_writes_beside_it_are_stored()
    {
        var (postgres, writer, taken) = await StartAsync();
        await using var _pg = postgres;
        using var _w = writer;
        var stored = await postgres.ScalarAsync<long>($"SELECT COUNT(*) FROM journal WHERE persistence_id = '{taken}'");
        Assert.True(stored > 0);
        Task first, collides, halfCollides;
        Task[] good;
        await using (await LockJournalAsync(postgres))
        {
            first = writer.WriteAsync([Row("solo", 1)]);
            await WaitUntilCommittingAsync(writer);
            good = Enumerable.Range(0, 5).Select(i => writer.WriteAsync([Row($"beside-{i}", 1)])).ToArray();
            collides = writer.WriteAsync([Row(taken, 1)]);
            halfCollides = writer.WriteAsync([Row("half-new", 1), Row(taken, 1)]);
        }

        await Task.WhenAll(good.Append(first)).WaitAsync(Bound);
        Assert.Equal(PostgresErrorCodes.UniqueViolation, (await Assert.ThrowsAsync<PostgresException>(() => collides.WaitAsync(Bound))).SqlState);
        Assert.Equal(PostgresErrorCodes.UniqueViolation, (await Assert.ThrowsAsync<PostgresException>(() => halfCollides.WaitAsync(Bound))).SqlState);
        Assert.Equal(5L, await postgres.ScalarAsync<long>("SELECT COUNT(*) FROM journal WHERE persistence_id LIKE 'beside-%'"));
        Assert.Equal(0L, await postgres.ScalarAsync<long>("SELECT COUNT(*) FROM journal WHERE persistence_id = 'half-new'"));
        Assert.Equal(stored, await postgres.ScalarAsync<long>($"SELECT COUNT(*) FROM journal WHERE persistence_id = '{taken}'"));
        Assert.Equal(1 + 5, writer.Commits);
    }
}
