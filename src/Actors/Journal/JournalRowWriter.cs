using System.Data;
using System.Data.Common;
using System.Runtime.CompilerServices;
using Akka.Configuration;
using Microsoft.Data.Sqlite;
using Npgsql;

namespace Akka.Sync.Actors.Journal;

/// <summary>
/// Writes journal rows for <see cref="GroupCommitJournal"/>: one thread, one open connection, one prepared insert.
/// Each transaction takes every write waiting when it starts (up to <see cref="MaxRowsPerTransaction"/> rows), so
/// concurrent conversations share one commit — and on SQLite one fsync — instead of queueing for one each.
/// </summary>
/// <remarks>
/// SQLite: <c>BEGIN IMMEDIATE</c>, the insert stepped once per row, <c>COMMIT</c> (WAL, <c>synchronous = FULL</c>: the
/// commit is durable when it returns). PostgreSQL: one <see cref="NpgsqlBatch"/> of inserts, which Npgsql sends as one
/// pipeline and PostgreSQL runs as one implicit transaction. A failed transaction with more than one write in it is
/// retried one write at a time, so a write that collides on (persistence id, sequence number), or is otherwise bad,
/// fails alone. After a failure the connection is closed and the next transaction opens a new one (the database may
/// have been away). The connection is kept open between transactions when the connection string pools connections
/// (the server's default, as the plugin's pooled connections stay open); without pooling it is closed whenever no
/// write waits, as the plugin's are.
/// </remarks>
internal sealed class JournalRowWriter : IDisposable
{
    /// <summary>One journal row: the columns Akka.Persistence.Sql writes for the default mapping (ordering is the identity).</summary>
    public sealed record Row(string PersistenceId, long SequenceNr, long Created, string Manifest, byte[] Message, int Identifier);

    private sealed record Pending(IReadOnlyList<Row> Rows, TaskCompletionSource Done);

    /// <summary>Rows in one transaction at most (a write's own rows are never split).</summary>
    public const int MaxRowsPerTransaction = 1000;

    // Writes waiting for the writer thread, under their own lock. Not a BlockingCollection: its SemaphoreSlim spins
    // (sched_yield, Sleep(0)) before it blocks, and on two cores the writer spun after each commit on the CPU the
    // writes it waited for needed (~10,000 sched_yield calls a second under the many-conversations workload;
    // bench/NOTES.md, "Issue 15, eighth sitting"). Monitor.Wait blocks at once; a write wakes it with Pulse.
    private readonly Queue<Pending> _queue = new();
    private bool _completed;
    private readonly Func<DbConnection> _connect;
    private readonly bool _sqlite;
    private readonly bool _keepOpen;
    private readonly string _insert;
    private readonly string _writerUuid = Guid.NewGuid().ToString("N");
    private readonly Thread _thread;
    private long _commits;
    private DbConnection? _connection;
    private DbCommand? _prepared; // SQLite: the insert, prepared once per connection
    private readonly SqliteCheckpointer? _checkpointer; // SQLite: copies the log into the database off this thread

    private JournalRowWriter(Func<DbConnection> connect, bool sqlite, bool keepOpen, string table, string systemName, string? checkpointFrom = null)
    {
        _connect = connect;
        _sqlite = sqlite;
        _keepOpen = keepOpen;
        // Named parameters for SQLite; positional ones for PostgreSQL (what an NpgsqlBatchCommand takes as is).
        _insert = $"INSERT INTO {table} (persistence_id, sequence_number, deleted, created, manifest, message, identifier, writer_uuid) " +
                  (sqlite ? "VALUES (@pid, @seq, @deleted, @created, @manifest, @message, @identifier, @writer)" : "VALUES ($1, $2, $3, $4, $5, $6, $7, $8)");
        _checkpointer = checkpointFrom is null ? null : new SqliteCheckpointer(checkpointFrom, systemName);
        _thread = new Thread(Run) { IsBackground = true, Name = $"{systemName}-journal-writer" };
        _thread.Start();
    }

    /// <summary>
    /// A writer for this journal configuration, or null when it is not the default table mapping with the writer-uuid
    /// column on SQLite or PostgreSQL (the plugin's own path handles those).
    /// </summary>
    public static JournalRowWriter? TryCreate(Config config, string systemName)
    {
        if (DefaultTableMapping.Read(config, "journal") is not (var connectionString, var provider, var table)) return null;
        if (!config.GetBoolean("default.journal.use-writer-uuid-column", true)) return null;
        if (config.GetString("tag-write-mode", "TagTable") is var tags && !tags.Equals("TagTable", StringComparison.OrdinalIgnoreCase)) return null;
        if (!DefaultTableMapping.HasDefaultColumns(config, "default.journal.columns", DefaultTableMapping.JournalColumns)) return null;
        if (provider.StartsWith("SQLite", StringComparison.OrdinalIgnoreCase))
            return new JournalRowWriter(() => new SqliteConnection(connectionString), true,
                new SqliteConnectionStringBuilder(connectionString).Pooling, table, systemName, connectionString);
        if (provider.StartsWith("PostgreSQL", StringComparison.OrdinalIgnoreCase))
            return CreatePostgres(connectionString, table, systemName);
        return null;
    }

    // Npgsql's types appear only in methods of their own that the JIT neither compiles nor inlines until a PostgreSQL
    // node calls them: a SQLite node never loads the assembly (~0.8 MB of a node at rest; bench/NOTES.md).
    [MethodImpl(MethodImplOptions.NoInlining)]
    private static JournalRowWriter CreatePostgres(string connectionString, string table, string systemName) =>
        new(() => new NpgsqlConnection(connectionString), false, new NpgsqlConnectionStringBuilder(connectionString).Pooling, table, systemName);

    /// <summary>SQLite: the busy timeout of the writer's connection, as SQLite reports it (for tests).</summary>
    internal long BusyTimeoutMs { get; private set; }

    /// <summary>Transactions committed so far (for tests: how writes were grouped).</summary>
    internal long Commits => Interlocked.Read(ref _commits);

    /// <summary>SQLite: the writer connection's <c>wal_autocheckpoint</c>, as SQLite reports it (for tests).</summary>
    internal long AutoCheckpointPages { get; private set; }

    /// <summary>SQLite: the thread that checkpoints the log (for tests).</summary>
    internal SqliteCheckpointer? Checkpointer => _checkpointer;

    /// <summary>True while a transaction runs: its writes are chosen, later ones wait for the next (for tests).</summary>
    internal bool Committing => Volatile.Read(ref _committing) != 0;

    private int _committing;

    /// <summary>True once <see cref="Dispose"/> was called: later writes are refused (for tests).</summary>
    internal bool Stopping
    {
        get { lock (_queue) return _completed; }
    }

    /// <summary>
    /// Stores <paramref name="rows"/> in one transaction (possibly shared with other writes); completes once committed.
    /// The task completes on the writer thread and its continuations run there, inline: they must be short and must not
    /// block (the journal's are: a few Tells to the journal's resequencer). Queuing each write's completion to the
    /// thread pool instead cost a work item, and often a thread wake-up, per write (bench/NOTES.md, "Issue 15, ninth
    /// sitting"). A continuation that goes on to do real work yields first (<see cref="GroupCommitJournal"/>).
    /// </summary>
    public Task WriteAsync(IReadOnlyList<Row> rows)
    {
        var done = new TaskCompletionSource();
        lock (_queue)
        {
            if (_completed)
            {
                done.TrySetException(new InvalidOperationException("The journal is stopping: the write was not stored"));
                return done.Task;
            }
            _queue.Enqueue(new Pending(rows, done));
            Monitor.Pulse(_queue); // wakes the writer if it waits; nothing when it is busy
        }
        return done.Task;
    }

    private void Run()
    {
        var group = new List<Pending>();
        while (TakeGroup(group))
        {
            try
            {
                Commit(group);
                foreach (var p in group) p.Done.TrySetResult();
            }
            catch (Exception e) when (group.Count > 1 && IsThisWritesFault(e))
            {
                // A row the database refused (a collision on persistence id and sequence number, a value it will not
                // take): each write alone, so only the ones that fail again fail.
                Reset();
                foreach (var p in group)
                {
                    try
                    {
                        Commit([p]);
                        p.Done.TrySetResult();
                    }
                    catch (Exception alone)
                    {
                        Reset();
                        p.Done.TrySetException(alone);
                    }
                }
            }
            catch (Exception e)
            {
                // The database is away, locked past its timeout, or out of space: every write of the transaction fails
                // now (the journal's circuit breaker and the conversations' recovery take it from there), rather than
                // each waiting out the same timeout again.
                Reset();
                foreach (var p in group) p.Done.TrySetException(e);
            }
            if (!_keepOpen && IsIdle) Reset();
        }
        Reset();
    }

    /// <summary>
    /// Waits for at least one write, then takes every write waiting, up to <see cref="MaxRowsPerTransaction"/> rows (the
    /// first always whole). False once the writer is disposed and nothing is left.
    /// </summary>
    private bool TakeGroup(List<Pending> group)
    {
        group.Clear();
        lock (_queue)
        {
            while (_queue.Count == 0)
            {
                if (_completed) return false;
                Monitor.Wait(_queue);
            }
            var rows = 0;
            while (_queue.Count > 0 && (group.Count == 0 || rows < MaxRowsPerTransaction))
            {
                var next = _queue.Dequeue();
                group.Add(next);
                rows += next.Rows.Count;
            }
            return true;
        }
    }

    private bool IsIdle
    {
        get { lock (_queue) return _queue.Count == 0; }
    }

    /// <summary>
    /// Whether the database refused a row (SQLite's SQLITE_CONSTRAINT, PostgreSQL's integrity-constraint and data
    /// exception classes) rather than the transaction as a whole failing.
    /// </summary>
    internal static bool IsThisWritesFault(Exception e) => e switch
    {
        SqliteException s => s.SqliteErrorCode is 19 or 20 or 25, // CONSTRAINT, MISMATCH, RANGE
        DbException => IsPostgresRowFault(e),
        _ => false,
    };

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static bool IsPostgresRowFault(Exception e) =>
        e is PostgresException p && (p.SqlState.StartsWith("23", StringComparison.Ordinal) || p.SqlState.StartsWith("22", StringComparison.Ordinal));

    private void Commit(IReadOnlyList<Pending> group)
    {
        Volatile.Write(ref _committing, 1);
        try { CommitGroup(group); }
        finally { Volatile.Write(ref _committing, 0); }
    }

    private void CommitGroup(IReadOnlyList<Pending> group)
    {
        if (_sqlite)
        {
            var connection = Open();
            using var transaction = connection.BeginTransaction(IsolationLevel.Serializable); // BEGIN IMMEDIATE
            var insert = _prepared!;
            insert.Transaction = transaction;
            foreach (var p in group)
            foreach (var row in p.Rows)
            {
                Bind(insert.Parameters, row);
                insert.ExecuteNonQuery();
            }
            transaction.Commit();
            Interlocked.Increment(ref _commits);
            _checkpointer?.Nudge();
            return;
        }
        CommitPostgres(group);
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private void CommitPostgres(IReadOnlyList<Pending> group)
    {
        using var batch = ((NpgsqlConnection)Open()).CreateBatch();
        foreach (var p in group)
        foreach (var row in p.Rows)
        {
            var command = new NpgsqlBatchCommand(_insert);
            AddParameters(command.Parameters, row);
            batch.BatchCommands.Add(command);
        }
        batch.ExecuteNonQuery(); // one implicit transaction: all rows or none
        Interlocked.Increment(ref _commits);
    }

    private DbConnection Open()
    {
        if (_connection is not null) return _connection;
        var connection = _connect();
        connection.Open();
        if (_sqlite)
        {
            // Another connection may hold the write lock for a moment (the snapshot store saving a snapshot or an index
            // segment). Without a busy timeout SQLite answers SQLITE_BUSY at once and Microsoft.Data.Sqlite retries
            // after a fixed 150 ms sleep, stalling every write queued behind this thread; with it, SQLite's own handler
            // retries within milliseconds of the lock's release, for as long as the connection's timeout.
            using (var busy = connection.CreateCommand())
            {
                busy.CommandText = $"PRAGMA busy_timeout = {((SqliteConnection)connection).DefaultTimeout * 1000L}; PRAGMA busy_timeout;";
                BusyTimeoutMs = Convert.ToInt64(busy.ExecuteScalar(), System.Globalization.CultureInfo.InvariantCulture);
                // The log is copied into the database by the checkpointer's thread; this connection checkpoints only as
                // a backstop, far less often than SQLite's default of every 1,000 pages (SqliteCheckpointer).
                busy.CommandText = $"PRAGMA wal_autocheckpoint = {SqliteCheckpointer.WriterAutoCheckpointPages};";
                AutoCheckpointPages = Convert.ToInt64(busy.ExecuteScalar(), System.Globalization.CultureInfo.InvariantCulture);
            }
            var insert = connection.CreateCommand();
            insert.CommandText = _insert;
            AddParameters(insert.Parameters, null);
            insert.Prepare();
            _prepared = insert;
        }
        return _connection = connection;
    }

    private void Reset()
    {
        _prepared?.Dispose();
        _prepared = null;
        _connection?.Dispose();
        _connection = null;
    }

    private void AddParameters(DbParameterCollection parameters, Row? row)
    {
        parameters.Clear();
        Add("@pid", row?.PersistenceId ?? "");
        Add("@seq", row?.SequenceNr ?? 0L);
        Add("@deleted", false);
        Add("@created", row?.Created ?? 0L);
        Add("@manifest", row?.Manifest ?? "");
        Add("@message", row?.Message ?? []);
        Add("@identifier", row?.Identifier ?? 0);
        Add("@writer", _writerUuid);
        return;

        void Add(string name, object value)
        {
            parameters.Add(_sqlite ? new SqliteParameter(name, value) : PostgresParameter(value));
        }
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static DbParameter PostgresParameter(object value) => new NpgsqlParameter { Value = value };

    private static void Bind(DbParameterCollection parameters, Row row)
    {
        parameters[0].Value = row.PersistenceId;
        parameters[1].Value = row.SequenceNr;
        parameters[3].Value = row.Created;
        parameters[4].Value = row.Manifest;
        parameters[5].Value = row.Message;
        parameters[6].Value = row.Identifier;
    }

    /// <summary>
    /// Stops taking writes; the thread finishes those already queued and closes the connection. Waits for that, bounded
    /// (the journal stops with its actor system or when it restarts: a new writer may open the file next).
    /// </summary>
    public void Dispose()
    {
        lock (_queue)
        {
            _completed = true;
            Monitor.Pulse(_queue);
        }
        if (Thread.CurrentThread != _thread) _thread.Join(TimeSpan.FromSeconds(5));
        _checkpointer?.Dispose();
    }
}
