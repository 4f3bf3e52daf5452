using System.Diagnostics;
using Microsoft.Data.Sqlite;

namespace Akka.Sync.Actors.Journal;

/// <summary>
/// Copies the journal's write-ahead log into the database file on a thread and connection of its own, so the journal's
/// writer does not: <see cref="JournalRowWriter"/> nudges it after each commit, and at most once per
/// <see cref="Interval"/> it runs a <c>PASSIVE</c> checkpoint, which neither blocks nor waits for the writer; a commit
/// nudged while it waits out the interval gets its checkpoint when the interval ends, so the log is copied after the
/// last commit of a burst too, not only at the next write.
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
    /// <summary>At most one checkpoint per this while commits go on (the server's; tests may give another).</summary>
    public static readonly TimeSpan DefaultInterval = TimeSpan.FromMilliseconds(100);

    /// <summary>The writer's own <c>wal_autocheckpoint</c> while this runs (SQLite's default is 1,000 pages).</summary>
    public const int WriterAutoCheckpointPages = 4000;

    private readonly string _connectionString;
    private readonly bool _keepOpen;
    private readonly Thread _thread;
    private readonly long _intervalTicks;
    private readonly object _gate = new();
    private bool _wanted; // a commit since the last checkpoint began (read without the lock on the nudge's fast path)
    private bool _stopping;
    private long _nextAt; // Stopwatch ticks: the earliest start of the next checkpoint (written and read by the thread)
    private long _checkpoints;
    private long _failures;
    private SqliteConnection? _connection;

    public SqliteCheckpointer(string connectionString, string systemName, TimeSpan? interval = null)
    {
        // A connection of its own, outside the pool: the pool's connections are the readers' and the writer's. It stays
        // open between checkpoints when the journal's connections are pooled (the server's default), as the writer's
        // does; otherwise it is closed after each, so nothing holds the file open while the journal is idle.
        var builder = new SqliteConnectionStringBuilder(connectionString);
        _keepOpen = builder.Pooling;
        builder.Pooling = false;
        _connectionString = builder.ToString();
        Interval = interval ?? DefaultInterval;
        _intervalTicks = (long)(Interval.TotalSeconds * Stopwatch.Frequency);
        _thread = new Thread(Run) { IsBackground = true, Name = $"{systemName}-wal-checkpoint" };
        _thread.Start();
    }

    /// <summary>The least time between the starts of two checkpoints.</summary>
    public TimeSpan Interval { get; }

    /// <summary>Checkpoints run so far (for tests).</summary>
    internal long Checkpoints => Interlocked.Read(ref _checkpoints);

    /// <summary>Checkpoints that failed (for tests; the next nudge tries again on a new connection).</summary>
    internal long Failures => Interlocked.Read(ref _failures);

    /// <summary>Whether its connection is open now (for tests).</summary>
    internal bool HoldsConnection => Volatile.Read(ref _connection) is not null;

    /// <summary>The last checkpoint's answer: frames in the log, and frames of it copied into the database (for tests).</summary>
    internal (long Log, long Copied) Last
    {
        get { lock (_gate) return _last; }
        private set { lock (_gate) _last = value; }
    }
    private (long Log, long Copied) _last;

    /// <summary>
    /// After a commit: asks for a checkpoint, which runs once the last one began at least <see cref="Interval"/> ago, so
    /// every commit is followed by a checkpoint that began after it (the last commit of a burst too) and there is at most
    /// one per interval. Called on the writer's thread; never blocks on the checkpoint, and takes no lock while a
    /// checkpoint is already asked for (every commit but about one per interval).
    /// </summary>
    public void Nudge()
    {
        if (Volatile.Read(ref _wanted)) return;
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
                while (!_stopping)
                {
                    if (!_wanted) { Monitor.Wait(_gate); continue; }
                    var early = _nextAt - Stopwatch.GetTimestamp();
                    if (early <= 0) break;
                    Monitor.Wait(_gate, TimeSpan.FromSeconds((double)early / Stopwatch.Frequency) + TimeSpan.FromMilliseconds(1));
                }
                if (_stopping) break;
                // Commits from here on ask for the next checkpoint: this one may begin before they end.
                Volatile.Write(ref _wanted, false);
            }
            _nextAt = Stopwatch.GetTimestamp() + _intervalTicks;
            Checkpoint();
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
