using Akka.Actor;
using Akka.Configuration;
using Akka.Sync.Actors.Conversations;
using Akka.Sync.Actors.Journal;
using Akka.Sync.Actors.Serialization;
using Akka.Sync.Actors.Tests.Support;
using Microsoft.Data.Sqlite;
using Xunit;
using Xunit.Abstractions;

namespace Akka.Sync.Actors.Tests;

/// <summary>
/// The journal's write path (<see cref="GroupCommitJournal"/>, <see cref="JournalRowWriter"/>) on a real SQLite file:
/// writes that wait while a transaction runs share the next commit; a write that collides fails alone and whole; the
/// rows are the plugin's, read back by its recovery.
/// </summary>
public sealed class GroupCommitJournalTests(ITestOutputHelper output) : SqliteActorTest(output)
{
    private JournalRowWriter NewWriter(string? connectionString = null)
    {
        // The plugin creates the journal's tables on its first use: a conversation's first write.
        CreateConversation(Region(Settings()));
        var config = Sys.Settings.Config.GetConfig("akka.persistence.journal.sql");
        if (connectionString is not null)
            config = ConfigurationFactory.ParseString($"connection-string = \"{connectionString}\"").WithFallback(config);
        return JournalRowWriter.TryCreate(config, "test")
               ?? throw new InvalidOperationException("the test's journal configuration is the default mapping on SQLite");
    }

    private static JournalRowWriter.Row Row(string persistenceId, long seq) =>
        new(persistenceId, seq, DateTime.UtcNow.Ticks, "m", [1, 2, 3], 42);

    /// <summary>Takes SQLite's one write lock on another connection, so the writer's next transaction waits for it.</summary>
    private SqliteConnection HoldWriteLock()
    {
        var holder = OpenDatabase();
        using var begin = holder.CreateCommand();
        begin.CommandText = "BEGIN IMMEDIATE";
        begin.ExecuteNonQuery();
        return holder;
    }

    /// <summary>Starts <paramref name="first"/> and waits until the writer's transaction for it runs (blocked on the lock).</summary>
    private Task StartFirst(JournalRowWriter writer, string persistenceId)
    {
        var first = writer.WriteAsync([Row(persistenceId, 1)]);
        AwaitCondition(() => writer.Committing, Wait);
        return first;
    }

    [Fact]
    public async Task Writes_that_wait_while_a_transaction_runs_are_committed_together_in_the_next_one()
    {
        using var writer = NewWriter();
        Task first;
        Task[] rest;
        using (HoldWriteLock())
        {
            first = StartFirst(writer, "group-0");
            rest = Enumerable.Range(1, 20).Select(i => writer.WriteAsync([Row($"group-{i}", 1), Row($"group-{i}", 2)])).ToArray();
            Assert.False(first.IsCompleted); // nothing is acknowledged before its commit
        } // the lock is released: the first transaction commits, then one more for the 20 that waited

        await Task.WhenAll(rest.Append(first)).WaitAsync(Wait);
        Assert.Equal(2, writer.Commits);
        Assert.Equal(41, Scalar("SELECT COUNT(*) FROM journal WHERE persistence_id LIKE $p", "group-%"));
    }

    [Fact]
    public async Task Disposing_stores_every_write_already_queued_and_refuses_writes_after_it_unstored()
    {
        var writer = NewWriter();
        Task first, disposing;
        Task[] queued;
        using (HoldWriteLock())
        {
            first = StartFirst(writer, "stop-0");
            queued = Enumerable.Range(1, 5).Select(i => writer.WriteAsync([Row($"stop-{i}", 1)])).ToArray();
            disposing = Task.Run(writer.Dispose); // waits for the queued writes, which wait for the lock
            AwaitCondition(() => writer.Stopping, Wait);
            var late = writer.WriteAsync([Row("stop-late", 1)]);
            var refused = await Assert.ThrowsAsync<InvalidOperationException>(() => late.WaitAsync(Wait));
            Assert.Contains("not stored", refused.Message);
            Assert.False(first.IsCompleted);
        }

        await Task.WhenAll(queued.Append(first)).WaitAsync(Wait);
        await disposing.WaitAsync(Wait);
        Assert.Equal(2, writer.Commits); // the first, then the five that waited, together
        Assert.Equal(6, Scalar("SELECT COUNT(*) FROM journal WHERE persistence_id LIKE $p", "stop-%"));
        Assert.Equal(0, Scalar("SELECT COUNT(*) FROM journal WHERE persistence_id = $p", "stop-late"));
    }

    [Fact]
    public async Task A_write_that_collides_with_a_stored_row_fails_alone_and_whole_and_the_writes_beside_it_are_stored()
    {
        using var writer = NewWriter();
        var region = Region(Settings());
        var id = CreateConversation(region);
        AppendOk(region, id, 3);
        var stored = JournalRows(id);
        var taken = ConversationActor.PersistenceIdOf(id);

        Task first, collides, halfCollides;
        Task[] good;
        using (HoldWriteLock())
        {
            first = StartFirst(writer, "solo");
            good = Enumerable.Range(0, 5).Select(i => writer.WriteAsync([Row($"beside-{i}", 1)])).ToArray();
            collides = writer.WriteAsync([Row(taken, 1)]);
            halfCollides = writer.WriteAsync([Row("half-new", 1), Row(taken, 2)]); // an atomic write: all or nothing
        }

        await Task.WhenAll(good.Append(first)).WaitAsync(Wait);
        Assert.Equal(19, (await Assert.ThrowsAsync<SqliteException>(() => collides.WaitAsync(Wait))).SqliteErrorCode); // SQLITE_CONSTRAINT
        Assert.Equal(19, (await Assert.ThrowsAsync<SqliteException>(() => halfCollides.WaitAsync(Wait))).SqliteErrorCode);
        Assert.Equal(5, Scalar("SELECT COUNT(*) FROM journal WHERE persistence_id LIKE $p", "beside-%"));
        Assert.Equal(0, Scalar("SELECT COUNT(*) FROM journal WHERE persistence_id = $p", "half-new"));
        Assert.Equal(stored, JournalRows(id));
        // The shared transaction failed, then each of its writes ran alone: the first, then the five beside.
        Assert.Equal(1 + 5, writer.Commits);
        // The conversation's own log is untouched and still takes writes.
        AppendOk(region, id, 1);
        Assert.Equal(4, Count(region, id));
    }

    [Fact]
    public void The_journal_writes_the_plugins_columns_and_the_plugins_recovery_reads_them_back()
    {
        var region = Region(Settings());
        var id = CreateConversation(region);
        AppendOk(region, id, 5);

        using (var connection = OpenDatabase())
        using (var command = connection.CreateCommand())
        {
            command.CommandText = "SELECT deleted, identifier, manifest, writer_uuid, created FROM journal WHERE persistence_id = $p";
            command.Parameters.AddWithValue("$p", ConversationActor.PersistenceIdOf(id));
            using var rows = command.ExecuteReader();
            var n = 0;
            while (rows.Read())
            {
                n++;
                Assert.Equal(0L, rows.GetInt64(0));
                Assert.Equal(new SyncSerializer((Akka.Actor.ExtendedActorSystem)Sys).Identifier, rows.GetInt32(1));
                Assert.False(string.IsNullOrEmpty(rows.GetString(2)));
                Assert.Matches("^[0-9a-f]{32}$", rows.GetString(3));
                Assert.InRange(new DateTime(rows.GetInt64(4), DateTimeKind.Utc), DateTime.UtcNow.AddMinutes(-5), DateTime.UtcNow.AddMinutes(1));
            }
            Assert.True(n >= 2, $"{n} rows"); // the conversation's creation, then the batch
        }

        RestartEntity(region, id); // recovery: Akka.Persistence.Sql's own replay of these rows
        Assert.Equal(5, Count(region, id));
        AppendOk(region, id, 1);
        Assert.Equal(6, Count(region, id));
    }

    [Fact]
    public async Task While_the_database_stays_locked_past_its_timeout_every_waiting_write_fails_unstored_and_writes_resume_after()
    {
        // Microsoft.Data.Sqlite retries a locked database for its default timeout (here 1 s), then fails.
        using var writer = NewWriter($"Data Source={DatabaseFile};Default Timeout=1");
        using (HoldWriteLock())
        {
            var writes = Enumerable.Range(0, 4).Select(i => writer.WriteAsync([Row($"locked-{i}", 1)])).ToArray();
            foreach (var write in writes)
                Assert.Equal(5, (await Assert.ThrowsAsync<SqliteException>(() => write.WaitAsync(Wait))).SqliteErrorCode); // SQLITE_BUSY
        }

        Assert.Equal(0, writer.Commits);
        Assert.Equal(0, Scalar("SELECT COUNT(*) FROM journal WHERE persistence_id LIKE $p", "locked-%"));
        await writer.WriteAsync([Row("locked-1", 1)]).WaitAsync(Wait); // a new connection, and the write that failed goes in
        Assert.Equal(1, Scalar("SELECT COUNT(*) FROM journal WHERE persistence_id LIKE $p", "locked-%"));
    }

    /// <summary>
    /// The writer's connection waits for a lock held by another connection with SQLite's own busy handler, for the
    /// connection's timeout: without it Microsoft.Data.Sqlite retries a busy database after fixed 150 ms sleeps, and a
    /// snapshot save holding the lock for a millisecond stalled every queued write that long.
    /// </summary>
    [Theory]
    [InlineData("", 30_000)]
    [InlineData(";Default Timeout=3", 3_000)]
    public async Task The_writer_waits_for_another_connections_lock_inside_sqlite_for_the_connection_timeout(string options, long expectedMs)
    {
        using var writer = NewWriter($"Data Source={DatabaseFile}{options}");
        await writer.WriteAsync([Row("busy", 1)]).WaitAsync(Wait);
        Assert.Equal(expectedMs, writer.BusyTimeoutMs);
    }

    private static JournalRowWriter.Row PageRow(string persistenceId, long seq) =>
        new(persistenceId, seq, DateTime.UtcNow.Ticks, "m", new byte[3500], 42); // about a page of the log each

    /// <summary>
    /// The log is copied into the database file by the checkpointer's own thread and connection, and the writer's
    /// connection checkpoints only past <see cref="SqliteCheckpointer.WriterAutoCheckpointPages"/> pages instead of
    /// SQLite's 1,000: under many conversations the writer's checkpoints (a thousand pages and an fsync of the database
    /// every ~25 commits) stalled every write queued behind them.
    /// </summary>
    [Fact]
    public async Task The_log_is_copied_into_the_database_by_the_checkpointers_thread_and_the_writer_checkpoints_only_as_a_backstop()
    {
        using var writer = NewWriter();
        for (var w = 0; w < 30; w++)
            await writer.WriteAsync(Enumerable.Range(1, 20).Select(i => PageRow($"ckpt-{w}", i)).ToList()).WaitAsync(Wait);

        Assert.Equal(SqliteCheckpointer.WriterAutoCheckpointPages, writer.AutoCheckpointPages);
        var checkpointer = writer.Checkpointer ?? throw new InvalidOperationException("a SQLite writer has a checkpointer");
        // Nudged after each commit, at most once per interval, and a checkpoint begins after the last commit (within an
        // interval of it): that one copies the whole log, which nothing writes to since.
        AwaitCondition(() => checkpointer.Last is { Log: > 0 } last && last.Copied == last.Log, Wait);
        Assert.Equal(0, checkpointer.Failures);
        Assert.Equal(600, Scalar("SELECT COUNT(*) FROM journal WHERE persistence_id LIKE $p", "ckpt-%"));
    }

    /// <summary>
    /// A commit nudged while the checkpointer waits out its interval gets a checkpoint when the interval ends: the last
    /// commit of a burst is copied into the database without waiting for the next write, and no two checkpoints begin
    /// less than an interval apart. (Before, such a nudge was dropped: the log's tail stayed uncopied until the next
    /// commit, and a test that awaited a checkpoint with frames copied could wait for one that never came.)
    /// </summary>
    [Fact]
    public void A_commit_nudged_inside_the_interval_is_checkpointed_when_the_interval_ends()
    {
        var file = Path.Combine(Path.GetDirectoryName(DatabaseFile)!, "trailing.db");
        using var database = new SqliteConnection($"Data Source={file};Pooling=False");
        database.Open();
        void Execute(string sql)
        {
            using var command = database.CreateCommand();
            command.CommandText = sql;
            command.ExecuteNonQuery();
        }
        // This connection never checkpoints by itself: only the checkpointer copies the log.
        Execute("PRAGMA journal_mode = WAL; PRAGMA wal_autocheckpoint = 0; CREATE TABLE t (x BLOB);");
        var interval = TimeSpan.FromSeconds(2);
        using var checkpointer = new SqliteCheckpointer($"Data Source={file};Pooling=False", "test", interval);
        Assert.Equal(interval, checkpointer.Interval);

        var clock = System.Diagnostics.Stopwatch.StartNew();
        Execute("INSERT INTO t VALUES (zeroblob(3000));");
        checkpointer.Nudge();
        AwaitCondition(() => checkpointer.Checkpoints == 1, Wait);
        var first = checkpointer.Last;
        Assert.True(first.Log > 0 && first.Copied == first.Log, $"first checkpoint {first}");

        for (var i = 0; i < 3; i++) // a burst inside the interval: one checkpoint for all of it, after the interval
        {
            Execute("INSERT INTO t VALUES (zeroblob(3000));");
            checkpointer.Nudge();
        }
        AwaitCondition(() => checkpointer.Checkpoints == 2, Wait);
        Assert.True(clock.Elapsed >= interval, $"the second checkpoint began {clock.Elapsed} after the first nudge");
        var second = checkpointer.Last;
        Assert.True(second.Log > first.Log && second.Copied == second.Log, $"second checkpoint {second} after {first}");
        Assert.Equal(0, checkpointer.Failures);
        Assert.Equal(2, checkpointer.Checkpoints); // nothing nudged since: no third
    }

    /// <summary>
    /// Without pooled connections (the writer then closes its connection whenever no write waits) the checkpointer closes
    /// its own after each checkpoint too, so nothing of the journal holds the file open while it is idle; with them (the
    /// server's default) it keeps it open between checkpoints, as the writer does.
    /// </summary>
    [Theory]
    [InlineData(";Pooling=False", false)]
    [InlineData(";Pooling=True", true)]
    public async Task The_checkpointer_keeps_its_connection_open_between_checkpoints_only_when_connections_are_pooled(string options, bool kept)
    {
        using var writer = NewWriter($"Data Source={DatabaseFile}{options}");
        await writer.WriteAsync([Row("pooling", 1)]).WaitAsync(Wait);
        var checkpointer = writer.Checkpointer!;
        AwaitCondition(() => checkpointer.Checkpoints > 0 && checkpointer.HoldsConnection == kept, Wait);
    }

    /// <summary>
    /// Under writes that never pause, the log still starts again from its beginning (the writer's backstop checkpoint
    /// copies what the passive ones left), so the log file stays bounded; and a database checkpointed while written to
    /// holds every row, intact.
    /// </summary>
    [Fact]
    public async Task Under_continuous_writes_the_log_stays_bounded_and_the_database_holds_every_row_intact()
    {
        using var writer = NewWriter();
        var pending = new List<Task>();
        for (var w = 0; w < 120; w++) // ~12,000 pages of log: three times the writer's backstop
        {
            pending.Add(writer.WriteAsync(Enumerable.Range(1, 100).Select(i => PageRow($"steady-{w}", i)).ToList()));
            if (pending.Count == 8) { await pending[0].WaitAsync(Wait); pending.RemoveAt(0); }
        }
        await Task.WhenAll(pending).WaitAsync(Wait);

        var walBytes = new FileInfo(DatabaseFile + "-wal").Length;
        Output.WriteLine($"log file {walBytes / 1e6:F1} MB after 12,000 rows; {writer.Checkpointer!.Checkpoints} background checkpoints");
        // Without a restart the log would hold every page written (> 48 MB); the backstop plus one transaction's pages.
        Assert.InRange(walBytes, 1, (SqliteCheckpointer.WriterAutoCheckpointPages + JournalRowWriter.MaxRowsPerTransaction * 3L) * 4120);
        Assert.Equal(12_000, Scalar("SELECT COUNT(*) FROM journal WHERE persistence_id LIKE $p", "steady-%"));
        using var connection = OpenDatabase();
        using var check = connection.CreateCommand();
        check.CommandText = "PRAGMA integrity_check;";
        Assert.Equal("ok", check.ExecuteScalar());
    }

    /// <summary>
    /// A write's completion runs on the writer thread, inline, once its transaction commits: not queued to the thread
    /// pool, which cost a work item (and often a thread wake-up) per write (bench/NOTES.md, "Issue 15, ninth sitting").
    /// </summary>
    [Fact]
    public async Task A_writes_completion_runs_on_the_writer_thread_once_committed()
    {
        using var writer = NewWriter();
        Task<string?> completedOn;
        using (HoldWriteLock())
        {
            var write = StartFirst(writer, "inline-0");
            completedOn = write.ContinueWith(_ => Thread.CurrentThread.Name, CancellationToken.None,
                TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
            Assert.False(write.IsCompleted);
        }
        Assert.Equal("test-journal-writer", await completedOn.WaitAsync(Wait));
    }

    /// <summary>
    /// A recovery's read of the highest sequence number waits for that persistence id's write in progress (as the
    /// plugin's does), so an entity restarted while its write was committing does not reuse the write's sequence
    /// numbers; the journal's table of writes in progress stays bounded however many persistence ids it writes.
    /// </summary>
    [Fact]
    public void A_read_of_the_highest_sequence_number_waits_for_the_write_in_progress_and_the_table_of_writes_stays_bounded()
    {
        CreateConversation(Region(Settings())); // the plugin creates the tables on its first write
        var journal = Akka.Persistence.Persistence.Instance.Apply(Sys).JournalFor(null);
        var writes = CreateTestProbe();
        var reads = CreateTestProbe();
        Akka.Persistence.AtomicWrite One(string pid, long seq) =>
            new(new Akka.Persistence.Persistent($"event {seq}", seq, pid, writerGuid: "w"));

        using (HoldWriteLock())
        {
            // Both from this thread to one actor: the journal takes the write (into its table) before the read.
            journal.Tell(new Akka.Persistence.WriteMessages([One("pending", 1)], writes.Ref, 1));
            journal.Tell(new Akka.Persistence.ReplayMessages(1, long.MaxValue, long.MaxValue, "pending", reads.Ref));
            // While the write waits for the lock, the read waits for the write (in WAL mode it would otherwise read 0).
            reads.ExpectNoMsg(TimeSpan.FromMilliseconds(300));
        }
        writes.ExpectMsg<Akka.Persistence.WriteMessagesSuccessful>(Wait);
        writes.ExpectMsg<Akka.Persistence.WriteMessageSuccess>(Wait);
        reads.ExpectMsg<Akka.Persistence.ReplayedMessage>(Wait);
        Assert.Equal(1, reads.ExpectMsg<Akka.Persistence.RecoverySuccess>(Wait).HighestSequenceNr);

        for (var i = 0; i < 3000; i++)
        {
            journal.Tell(new Akka.Persistence.WriteMessages([One($"many-{i}", 1)], writes.Ref, 1));
            writes.ExpectMsg<Akka.Persistence.WriteMessagesSuccessful>(Wait);
            writes.ExpectMsg<Akka.Persistence.WriteMessageSuccess>(Wait);
        }
        journal.Tell(GroupCommitJournal.CountTrackedWrites.Instance, writes.Ref);
        Assert.InRange(writes.ExpectMsg<int>(Wait), 1, 1024);
    }

    /// <summary>
    /// The journal answers a write straight from the writer thread once it is committed, in Akka.Persistence's order
    /// (the batch's outcome, then one reply per event, each with the sender it came with), not through
    /// the journal's resequencer actor: a mailbox hop, and a thread-pool work item, per write (bench/NOTES.md, "Issue 15,
    /// tenth sitting"). A write whose payload cannot be serialised is rejected alone.
    /// </summary>
    [Fact]
    public void A_writes_replies_come_from_the_writer_thread_in_the_plugins_order_with_each_senders_reply()
    {
        CreateConversation(Region(Settings())); // the plugin creates the tables on its first write
        var journal = Akka.Persistence.Persistence.Instance.Apply(Sys).JournalFor(null);
        var target = new RecordingRef((Akka.Actor.ExtendedActorSystem)Sys);
        var (a, c) = (CreateTestProbe().Ref, CreateTestProbe().Ref);
        Akka.Persistence.Persistent Event(string pid, long seq, object payload, IActorRef sender) =>
            new(payload, seq, pid, sender: sender, writerGuid: "w");

        journal.Tell(new Akka.Persistence.WriteMessages(
        [
            new Akka.Persistence.AtomicWrite([Event("order", 1, "one", a), Event("order", 2, "two", a)]),
            new Akka.Persistence.AtomicWrite(Event("order", 3, new Unserializable(), c)),
            new Akka.Persistence.AtomicWrite(Event("order", 4, "four", c)),
        ], target, 7));

        var replies = target.Take(5, Wait);
        Assert.IsType<Akka.Persistence.WriteMessagesSuccessful>(replies[0].Message);
        Assert.Equal(journal, replies[0].Sender);
        Assert.Equal(1, Assert.IsType<Akka.Persistence.WriteMessageSuccess>(replies[1].Message).Persistent.SequenceNr);
        Assert.Equal(2, Assert.IsType<Akka.Persistence.WriteMessageSuccess>(replies[2].Message).Persistent.SequenceNr);
        var rejected = Assert.IsType<Akka.Persistence.WriteMessageRejected>(replies[3].Message);
        Assert.Equal(3, rejected.Persistent.SequenceNr);
        Assert.Equal(4, Assert.IsType<Akka.Persistence.WriteMessageSuccess>(replies[4].Message).Persistent.SequenceNr);
        Assert.All(replies.Skip(1).Select(r => r.Message), m => Assert.Equal(7, m switch
        {
            Akka.Persistence.WriteMessageSuccess s => s.ActorInstanceId,
            Akka.Persistence.WriteMessageRejected r => r.ActorInstanceId,
            _ => -1,
        }));
        Assert.Equal([a, a, c, c], replies.Skip(1).Select(r => r.Sender));
        Assert.All(replies, r => Assert.Equal($"{Sys.Name}-journal-writer", r.Thread));
        Assert.Equal(3, Scalar("SELECT COUNT(*) FROM journal WHERE persistence_id = $p", "order")); // 1, 2 and 4
    }

    /// <summary>
    /// A write of loop messages only (what a DeferAsync behind a completed write sends) stores nothing and succeeds: it
    /// must not count as a failure against the journal's circuit breaker.
    /// </summary>
    [Fact]
    public void A_write_of_loop_messages_only_succeeds_and_stores_nothing()
    {
        CreateConversation(Region(Settings()));
        var journal = Akka.Persistence.Persistence.Instance.Apply(Sys).JournalFor(null);
        var target = new RecordingRef((Akka.Actor.ExtendedActorSystem)Sys);
        var sender = CreateTestProbe().Ref;
        // NonPersistentMessage is Akka.Persistence's internal envelope for a deferred handler.
        var loop = (Akka.Persistence.IPersistentEnvelope)Activator.CreateInstance(
            typeof(Akka.Persistence.Persistent).Assembly.GetType("Akka.Persistence.NonPersistentMessage", throwOnError: true)!, "deferred", sender)!;

        journal.Tell(new Akka.Persistence.WriteMessages([loop], target, 3));

        var replies = target.Take(2, Wait);
        Assert.IsType<Akka.Persistence.WriteMessagesSuccessful>(replies[0].Message);
        var looped = Assert.IsType<Akka.Persistence.LoopMessageSuccess>(replies[1].Message);
        Assert.Equal(("deferred", 3), (looped.Message, looped.ActorInstanceId));
        Assert.Equal(sender, replies[1].Sender);
    }

    /// <summary>
    /// A persistent actor sends its next write as soon as the last one's <c>WriteMessagesSuccessful</c> arrives, before
    /// that write's per-event replies: a write of loop messages only (a DeferAsync queued while the first was in
    /// flight), answered at once by the journal, would overtake them and Akka.Persistence would run the first event's
    /// handler with the deferred message (a hand-off stop behind a write lost the write's answer in CI). Its answer
    /// must come after every reply of the write before it. Here the writer thread is held at the first write's first
    /// event reply while the loop-only write is taken.
    /// </summary>
    [Fact]
    public void A_loop_only_write_sent_while_the_last_writes_replies_are_going_out_is_answered_after_them()
    {
        CreateConversation(Region(Settings()));
        var journal = Akka.Persistence.Persistence.Instance.Apply(Sys).JournalFor(null);
        using var hold = new ManualResetEventSlim(false);
        var target = new RecordingRef((Akka.Actor.ExtendedActorSystem)Sys, m => m is Akka.Persistence.WriteMessageSuccess, hold);
        var sender = CreateTestProbe().Ref;
        var loop = (Akka.Persistence.IPersistentEnvelope)Activator.CreateInstance(
            typeof(Akka.Persistence.Persistent).Assembly.GetType("Akka.Persistence.NonPersistentMessage", throwOnError: true)!, "deferred", sender)!;

        journal.Tell(new Akka.Persistence.WriteMessages(
        [
            new Akka.Persistence.AtomicWrite([
                new Akka.Persistence.Persistent("one", 1, "overtake", writerGuid: "w"),
                new Akka.Persistence.Persistent("two", 2, "overtake", writerGuid: "w"),
            ]),
        ], target, 5));
        // The batch's outcome has gone out; the writer thread now waits at the first event's reply.
        Assert.IsType<Akka.Persistence.WriteMessagesSuccessful>(target.Take(1, Wait)[0].Message);
        AwaitCondition(() => target.Holding, Wait);
        journal.Tell(new Akka.Persistence.WriteMessages([loop], target, 5));
        // The journal has taken the loop-only write once it answers a message sent after it.
        journal.Tell(GroupCommitJournal.CountTrackedWrites.Instance, TestActor);
        ExpectMsg<int>(Wait);
        hold.Set();

        var replies = target.Take(3, Wait);
        Assert.Equal(1, Assert.IsType<Akka.Persistence.WriteMessageSuccess>(replies[0].Message).Persistent.SequenceNr);
        Assert.Equal(2, Assert.IsType<Akka.Persistence.WriteMessageSuccess>(replies[1].Message).Persistent.SequenceNr);
        Assert.IsType<Akka.Persistence.WriteMessagesSuccessful>(replies[2].Message);
        Assert.Equal("deferred", Assert.IsType<Akka.Persistence.LoopMessageSuccess>(target.Take(1, Wait)[0].Message).Message);
    }

    private sealed class Unserializable
    {
        public string Value => throw new InvalidOperationException("not serialisable");
    }

    /// <summary>An actor reference that records what it is told, by whom and on which thread.</summary>
    /// <remarks>
    /// With <paramref name="holdAt"/>, the first message it matches waits (on the telling thread) until
    /// <paramref name="hold"/> is set; <see cref="Holding"/> says it is waiting.
    /// </remarks>
    private sealed class RecordingRef(Akka.Actor.ExtendedActorSystem system, Func<object, bool>? holdAt = null, ManualResetEventSlim? hold = null)
        : Akka.Actor.MinimalActorRef
    {
        private readonly System.Collections.Concurrent.BlockingCollection<(object Message, IActorRef Sender, string? Thread)> _told = new();
        private int _held;
        private volatile bool _holding;

        public override Akka.Actor.ActorPath Path { get; } = new Akka.Actor.RootActorPath(system.Provider.DefaultAddress) / "temp" / "recording";
        public override Akka.Actor.IActorRefProvider Provider => system.Provider;

        public bool Holding => _holding;

        protected override void TellInternal(object message, IActorRef sender)
        {
            if (holdAt is not null && hold is not null && holdAt(message) && Interlocked.Exchange(ref _held, 1) == 0)
            {
                _holding = true;
                hold.Wait(TimeSpan.FromSeconds(30)); // bounded: a test that never sets it fails on its own wait instead
                _holding = false;
            }
            _told.Add((message, sender, Thread.CurrentThread.Name));
        }

        public List<(object Message, IActorRef Sender, string? Thread)> Take(int count, TimeSpan wait)
        {
            var taken = new List<(object, IActorRef, string?)>();
            using var timeout = new CancellationTokenSource(wait);
            while (taken.Count < count) taken.Add(_told.Take(timeout.Token));
            return taken;
        }
    }
}
