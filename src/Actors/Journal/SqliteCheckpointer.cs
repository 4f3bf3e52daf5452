using System.Diagnostics;
using Microsoft.Data.Sqlite;

namespace Akka.Sync.Actors.Journal;

/// <summary>
/// Copies the journal's write-ahead log into the database file on a thread and connection of its own, so the journal's
/// writer does not: <see cref="JournalRowWriter"/> nudges it after each commit, and at most once per
/// <see cref="Interval"/> it runs a <c>PASSIVE</c> checkpoint, which neither blocks nor waits for the writer.
/// </summary>
/// <remarks>
/// Why: SQLite checkpoints in the connection whose commit took the log past <c>wal_autocheckpoint</c> pages (1,000 by
/// default), inside that commit. For the writer that was a copy of ~1,000 pages and an fsync of the database file every
/// ~25 transactions under many conversations, during which every write waited (commits' 95th percentile 1.5–10.5 ms
/// against 1.3–2.5 ms without them; bench/NOTES.md, "Issue 15, twelfth sitting"). The writer keeps a checkpoint of its own as
/// a backstop (<see cref="WriterAutoCheckpointPages"/>): a passive checkpoint copies what was committed when it started,
/// and the log only starts again from its beginning once everything in it has been copied when a write begins, which a
/// busy writer rarely leaves time for; the writer's own checkpoint then copies only what the last passive one left.
/// The database's durability is SQLite's, unchanged: commits are durable in the log (<c>synchronous = FULL</c>), a
/// checkpoint syncs the log before it copies and the database file after.
/// </remarks>
internal sealed class SqliteCheckpointer : IDisposable
{
    /// <summary>At most one checkpoint per this while commits go on.</summary>
    public static readonly TimeSpan Interval = TimeSpan.FromMilliseconds(100);

    /// <summary>The writer's own <c>wal_autocheckpoint</c> while this runs (SQLite's default is 1,000 pages).</summary>
    public const int WriterAutoCheckpointPages = 4000;

    private readonly string _connectionString;
    private readonly bool _keepOpen;
    private readonly Thread _thread;
    private readonly long _intervalTicks = (long)(Interval.TotalSeconds * Stopwatch.Frequency);
    private readonly object _gate = new();
    private bool _wanted;
    private bool _stopping;
    private long _nextAt; // Stopwatch ticks: the earliest start of the next checkpoint
    private long _checkpoints;
    private long _failures;
    private SqliteConnection? _connection;

    public SqliteCheckpointer(string connectionString, string systemName)
    {
        // A connection of its own, outside the pool: the pool's connections are the readers' and the writer's. It stays
        // open between checkpoints when the journal's connections are pooled (the server's default), as the writer's
        // does; otherwise it is closed after each, so nothing holds the file open while the journal is idle.
        var builder = new SqliteConnectionStringBuilder(connectionString);
        _keepOpen = builder.Pooling;
        builder.Pooling = false;
        _connectionString = builder.ToString();
        _thread = new Thread(Run) { IsBackground = true, Name = $"{systemName}-wal-checkpoint" };
        _thread.Start();
    }

    /// <summary>Checkpoints run so far (for tests).</summary>
    internal long Checkpoints => Interlocked.Read(ref _checkpoints);

    /// <summary>Checkpoints that failed (for tests; the next nudge tries again on a new connection).</summary>
    internal long Failures => Interlocked.Read(ref _failures);

    /// <summary>Whether its connection is open now (for tests).</summary>
    internal bool HoldsConnection => Volatile.Read(ref _connection) is not null;

    /// <summary>The last checkpoint's answer: frames in the log, and frames of it copied into the database (for tests).</summary>
    internal (long Log, long Copied) Last { get; private set; }

    /// <summary>
    /// After a commit: wakes the thread unless a checkpoint is running or the last one began less than
    /// <see cref="Interval"/> ago. Called on the writer's thread; never blocks on the checkpoint.
    /// </summary>
    public void Nudge()
    {
        if (Stopwatch.GetTimestamp() < Volatile.Read(ref _nextAt)) return;
        lock (_gate)
        {
            if (_wanted || _stopping) return;
            _wanted = true;
            Monitor.Pulse(_gate);
        }
    }

    private void Run()
    {
        while (true)
        {
            lock (_gate)
            {
                while (!_wanted && !_stopping) Monitor.Wait(_gate);
                if (_stopping) break;
            }
            Volatile.Write(ref _nextAt, Stopwatch.GetTimestamp() + _intervalTicks);
            Checkpoint();
            lock (_gate) _wanted = false;
        }
        _connection?.Dispose();
    }

    private void Checkpoint()
    {
        try
        {
            if (_connection is null)
            {
                var connection = new SqliteConnection(_connectionString);
                connection.Open();
                _connection = connection;
            }
            using (var command = _connection.CreateCommand())
            {
                command.CommandText = "PRAGMA wal_checkpoint(PASSIVE);";
                using var reader = command.ExecuteReader();
                if (reader.Read()) Last = (reader.GetInt64(1), reader.GetInt64(2));
            }
            Interlocked.Increment(ref _checkpoints);
            if (!_keepOpen) Close();
        }
        catch (Exception)
        {
            // The file is away or locked past the connection's timeout, or anything else: never the node's end (this is
            // a thread of its own). The writer's own checkpoint still runs (its backstop), and the next nudge tries again
            // on a new connection.
            Interlocked.Increment(ref _failures);
            Close();
        }
    }

    private void Close()
    {
        _connection?.Dispose();
        _connection = null;
    }

    /// <summary>Stops the thread once a checkpoint in progress has ended (bounded wait) and closes its connection.</summary>
    public void Dispose()
    {
        lock (_gate)
        {
            _stopping = true;
            Monitor.Pulse(_gate);
        }
        if (Thread.CurrentThread != _thread) _thread.Join(TimeSpan.FromSeconds(5));
    }
}
