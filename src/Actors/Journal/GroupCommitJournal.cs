using System.Collections.Immutable;
using Akka.Actor;
using Akka.Configuration;
using Akka.Event;
using Akka.Persistence;
using Akka.Persistence.Journal;
using Akka.Persistence.Sql.Journal;
using Akka.Serialization;
using Akka.Util;

namespace Akka.Sync.Actors.Journal;

/// <summary>
/// Akka.Persistence.Sql's journal with its write path replaced by a group commit: every write waiting when the
/// previous transaction ends goes into the next one, as rows of a prepared insert (<see cref="JournalRowWriter"/>).
/// Recovery's reads (highest sequence number, replay) are plain SQL too (<see cref="DirectRecovery"/>). Everything else
/// — the tables and their creation, deletes, the query side and the snapshot store's writes — is Akka.Persistence.Sql's,
/// on the same tables and rows.
/// </summary>
/// <remarks>
/// <para>
/// Why: under many concurrent conversations the plugin's write path was a third of the server's CPU and most of a
/// write's latency (bench/NOTES.md, "the journal's write path"): a linq2db <c>DataConnection</c> cloned per write, the
/// insert's SQL built and parsed again each time, and a SQLite commit (and its fsync) per write or small batch, two or
/// three transactions at a time contending for SQLite's single write lock.
/// </para>
/// <para>
/// The guarantees are the plugin's: a write is acknowledged only after its transaction committed; an
/// <see cref="AtomicWrite"/> is all or nothing; the unique (persistence id, sequence number) index fails a write that
/// collides with a row already stored. A transaction that fails with more than one write in it is retried one write per
/// transaction, so a collision fails only the write that collides. Payloads are serialised exactly as the plugin does
/// (serializer id, manifest, bytes, the writer's uuid, the timestamp), so the plugin and <see cref="Conversations.JournalReader"/>
/// read the rows back unchanged.
/// </para>
/// <para>
/// Used for the default table mapping on SQLite and PostgreSQL without tags (what Akka.Sync configures); any other
/// mapping or provider, and any tagged write, takes the plugin's own path.
/// </para>
/// </remarks>
public sealed class GroupCommitJournal : SqlWriteJournal
{
    /// <summary>The HOCON that makes Akka.Persistence.Sql's journal this one.</summary>
    public const string Hocon = "akka.persistence.journal.sql.class = \"Akka.Sync.Actors.Journal.GroupCommitJournal, Akka.Sync.Actors\"";

    private readonly JournalRowWriter? _writer;
    private readonly DirectRecovery? _recovery;
    private readonly Akka.Serialization.Serialization _serialization;
    private readonly string? _defaultSerializer;
    private readonly Dictionary<string, Task> _inProgress = new(StringComparer.Ordinal);
    private readonly ILoggingAdapter _log = Context.GetLogger();

    public GroupCommitJournal(Config journalConfig) : base(SqliteTables.TakeOverJournal(journalConfig, out var tablesFailure))
    {
        if (tablesFailure is not null)
            _log.Warning(tablesFailure, "Could not create the journal's SQLite tables directly; Akka.Persistence.Sql creates them");
        _serialization = Context.System.Serialization;
        var serializer = journalConfig.GetString("serializer", null);
        _defaultSerializer = string.IsNullOrEmpty(serializer) || serializer == "null" ? null : serializer;
        _writer = JournalRowWriter.TryCreate(journalConfig, Context.System.Name);
        _recovery = DirectRecovery.ForJournal(journalConfig, Context.System, _defaultSerializer);
        if (_writer is null)
            _log.Info("The journal's table mapping or provider is not the default SQLite/PostgreSQL one: writes take Akka.Persistence.Sql's own path");
    }

    protected override Task<IImmutableList<Exception>> WriteMessagesAsync(IEnumerable<AtomicWrite> messages, CancellationToken cancellationToken)
    {
        var writes = messages as IReadOnlyList<AtomicWrite> ?? messages.ToList();
        if (_writer is null || writes.Any(IsTagged)) return base.WriteMessagesAsync(writes, cancellationToken);

        var now = DateTime.UtcNow.Ticks;
        var rows = new List<JournalRowWriter.Row>(writes.Count);
        Exception?[]? rejected = null;
        for (var w = 0; w < writes.Count; w++)
        {
            var write = writes[w];
            var first = rows.Count;
            try
            {
                foreach (var p in (IImmutableList<IPersistentRepresentation>)write.Payload) rows.Add(Serialize(p, now));
            }
            catch (Exception e)
            {
                // The plugin's contract: a payload that cannot be serialised rejects its own write, not the others.
                rows.RemoveRange(first, rows.Count - first);
                (rejected ??= new Exception?[writes.Count])[w] = e;
            }
        }

        var persistenceId = writes[0].PersistenceId;
        var done = rows.Count == 0 ? Task.CompletedTask : _writer.WriteAsync(rows);
        // Akka's contract: null when every write was stored, else one entry per write (null for those stored).
        var result = done.ContinueWith<IImmutableList<Exception>>(t =>
            {
                if (t.Exception is { } failed) throw failed.InnerExceptions.Count == 1 ? failed.InnerException! : failed;
                return rejected is null ? null! : ImmutableList.CreateRange(rejected.Select(e => e!));
            }, CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);

        // As the plugin does: a read of the highest sequence number waits for this persistence id's write in progress.
        // Finished writes are dropped from the table when it has doubled since the last sweep (and when a read finds
        // one), not by a message back to this actor per write: that was a mailbox hop per write (bench/NOTES.md,
        // "Issue 15, ninth sitting"). The table only ever holds the latest write of each persistence id.
        _inProgress[persistenceId] = result;
        if (_inProgress.Count >= _sweepAt)
        {
            foreach (var (id, write) in _inProgress)
                if (write.IsCompleted) _inProgress.Remove(id);
            _sweepAt = Math.Max(MinSweep, 2 * _inProgress.Count);
        }
        return result;
    }

    /// <summary>Asks the journal how many writes its table holds, in progress or finished and not yet swept (for tests).</summary>
    internal sealed record CountTrackedWrites
    {
        public static readonly CountTrackedWrites Instance = new();
    }

    protected override bool ReceivePluginInternal(object message)
    {
        if (message is not CountTrackedWrites) return base.ReceivePluginInternal(message);
        Sender.Tell(_inProgress.Count);
        return true;
    }

    private const int MinSweep = 1024;
    private int _sweepAt = MinSweep;

    public override async Task<long> ReadHighestSequenceNrAsync(string persistenceId, long fromSequenceNr, CancellationToken cancellationToken)
    {
        if (_inProgress.TryGetValue(persistenceId, out var pending))
        {
            if (pending.IsCompleted) _inProgress.Remove(persistenceId);
            // The write completes on the journal's writer thread: yield, so the read below does not run there.
            try { await pending.ConfigureAwait(ConfigureAwaitOptions.ForceYielding); }
            catch { /* only its end matters here; the writer already heard of its failure */ }
        }
        return _recovery is not null
            ? await _recovery.HighestSequenceNrAsync(persistenceId, fromSequenceNr, cancellationToken).ConfigureAwait(false)
            : await base.ReadHighestSequenceNrAsync(persistenceId, fromSequenceNr, cancellationToken).ConfigureAwait(false);
    }

    public override Task ReplayMessagesAsync(IActorContext context, string persistenceId, long fromSequenceNr, long toSequenceNr, long max,
        Action<IPersistentRepresentation> recoveryCallback) =>
        _recovery is not null
            ? _recovery.ReplayAsync(persistenceId, fromSequenceNr, toSequenceNr, max, recoveryCallback, CancellationToken.None)
            : base.ReplayMessagesAsync(context, persistenceId, fromSequenceNr, toSequenceNr, max, recoveryCallback);

    protected override void PostStop()
    {
        _writer?.Dispose();
        base.PostStop();
    }

    private static bool IsTagged(AtomicWrite write) =>
        ((IImmutableList<IPersistentRepresentation>)write.Payload).Any(p => p.Payload is Tagged { Tags.Count: > 0 });

    /// <summary>One row, as Akka.Persistence.Sql's <c>ByteArrayJournalSerializer</c> makes it.</summary>
    private JournalRowWriter.Row Serialize(IPersistentRepresentation p, long now)
    {
        var payload = p.Payload is Tagged t ? t.Payload : p.Payload;
        var serializer = _serialization.FindSerializerForType(payload.GetType(), _defaultSerializer);
        var manifest = serializer switch
        {
            SerializerWithStringManifest s => s.Manifest(payload),
            { IncludeManifest: true } => payload.GetType().TypeQualifiedName(),
            _ => string.Empty,
        };
        // Inside the transport scope, as the plugin does, so actor references in a payload serialise with addresses.
        var bytes = Akka.Serialization.Serialization.WithTransport(_serialization.System, (serializer, payload), s => s.serializer.ToBinary(s.payload));
        return new JournalRowWriter.Row(p.PersistenceId, p.SequenceNr, p.Timestamp == 0 ? now : p.Timestamp, manifest, bytes, serializer.Identifier);
    }
}
