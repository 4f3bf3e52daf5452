using Akka.Actor;
using Akka.Sync.Actors.Conversations;
using Akka.Sync.Actors.Tests.Support;
using Akka.Sync.Protocol;
using Xunit;
using Xunit.Abstractions;
using static Akka.Sync.Protocol.DirectoryQueries;

namespace Akka.Sync.Actors.Tests;

/// <summary>
/// The conversation directory on a real SQLite file: it serves the summaries it is told at once and persists them
/// behind, together, and a restart (snapshot plus the events after it) gives back exactly what it served.
/// </summary>
public sealed class ConversationDirectoryTests(ITestOutputHelper output) : SqliteActorTest(output)
{
    private const string PersistenceId = "conversation-directory";

    private static ConversationInfo Info(ConversationId id, string title, long created) =>
        new(id, Dialect.V1, title, ExecutionStatus.Idle, created, created, 0);

    private IActorRef StartDirectory(int snapshotEvery) => Sys.ActorOf(Props.Create(() => new ConversationDirectory(snapshotEvery)));

    private ConversationInfo[] All(IActorRef directory)
    {
        directory.Tell(new Search(null, null, 10_000, ConversationSort.CreatedAt));
        var page = ExpectMsg<Page>(Wait);
        Assert.Equal(ResultCode.Ok, page.Code);
        return page.Items;
    }

    private void Restart(ref IActorRef directory, int snapshotEvery)
    {
        Watch(directory);
        directory.Tell(PoisonPill.Instance);
        ExpectTerminated(directory, Wait);
        directory = StartDirectory(snapshotEvery);
    }

    private long DirectoryRows() => Scalar("SELECT COUNT(*) FROM journal WHERE persistence_id = $p", PersistenceId);

    /// <summary>
    /// Summaries told while the journal cannot write (another writer holds SQLite's lock) are served at once: a search
    /// behind them is answered before any of them is stored. Once the lock is released they are stored, and a new
    /// incarnation recovers every one. The directory persisted one summary at a time with the commands behind it stashed,
    /// so that search waited for every write before it, one commit each (bench/NOTES.md, "Issue 15, eleventh sitting").
    /// </summary>
    [Fact]
    public void Summaries_are_served_while_their_writes_wait_and_all_of_them_survive_a_restart()
    {
        var directory = StartDirectory(1000);
        var first = Info(ConversationId.New(), "first", 1);
        directory.Tell(new DirectoryCommands.Upsert(first, false));
        AwaitAssert(() => Assert.Equal(1, DirectoryRows()), Wait);

        var told = Enumerable.Range(2, 300).Select(i => Info(ConversationId.New(), $"c{i}", i)).ToArray();
        using (var holder = OpenDatabase())
        {
            using (var begin = holder.CreateCommand())
            {
                begin.CommandText = "BEGIN IMMEDIATE";
                begin.ExecuteNonQuery();
            }
            foreach (var info in told) directory.Tell(new DirectoryCommands.Upsert(info, false));
            Assert.Equal(told.Prepend(first).Select(i => i.ConversationId), All(directory).Select(i => i.ConversationId));
            Assert.Equal(1, DirectoryRows()); // nothing of them stored yet: they were served from memory
            using var rollback = holder.CreateCommand();
            rollback.CommandText = "ROLLBACK";
            rollback.ExecuteNonQuery();
        }

        AwaitAssert(() => Assert.Equal(301, DirectoryRows()), Wait);
        Restart(ref directory, 1000);
        Assert.Equal(told.Prepend(first), All(directory));
    }

    /// <summary>
    /// Creations, title changes and deletions told back to back, with snapshots due every few of them while later
    /// ones are still in flight (a snapshot then holds entries ahead of its own sequence number): the recovered
    /// directory, from its snapshot and the events after it, is the one that was served.
    /// </summary>
    [Fact]
    public void A_restart_from_a_snapshot_taken_while_upserts_were_in_flight_recovers_the_directory_that_was_served()
    {
        var directory = StartDirectory(5);
        var infos = Enumerable.Range(1, 60).Select(i => Info(ConversationId.New(), $"c{i}", i)).ToArray();
        var expected = new Dictionary<ConversationId, ConversationInfo>();
        var writes = 0;
        for (var i = 0; i < infos.Length; i++)
        {
            directory.Tell(new DirectoryCommands.Upsert(infos[i], false));
            expected[infos[i].ConversationId] = infos[i];
            writes++;
            if (i % 3 == 2)
            {
                var renamed = infos[i - 1] with { Title = $"renamed {i}", UpdatedTicks = 1000 + i };
                directory.Tell(new DirectoryCommands.Upsert(renamed, false));
                expected[renamed.ConversationId] = renamed;
                writes++;
            }
            if (i % 4 == 3)
            {
                directory.Tell(new DirectoryCommands.Upsert(infos[i - 2], true));
                expected.Remove(infos[i - 2].ConversationId);
                writes++;
            }
        }
        // Unchanged summaries (an event count moved) are not written again.
        directory.Tell(new DirectoryCommands.Upsert(infos[0] with { EventCount = 42 }, false));
        var served = All(directory);
        Assert.Equal(expected.Values.OrderBy(i => i.CreatedTicks), served);

        AwaitAssert(() => Assert.Equal(writes, DirectoryRows()), Wait);
        AwaitAssert(() => Assert.True(Scalar("SELECT COUNT(*) FROM snapshot WHERE persistence_id = $p", PersistenceId) > 0), Wait);
        Restart(ref directory, 5);
        Assert.Equal(served, All(directory));
    }
}
