using System.Collections.Immutable;
using Akka.Actor;
using Akka.Configuration;
using Akka.Event;
using Akka.Pattern;
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
    private readonly CircuitBreaker _breaker;

    public GroupCommitJournal(Config journalConfig) : base(SqliteTables.TakeOverJournal(journalConfig, out var tablesFailure))
    {
        if (tablesFailure is not null)
            _log.Warning(tablesFailure, "Could not create the journal's SQLite tables directly; Akka.Persistence.Sql creates them");
        _serialization = Context.System.Serialization;
        var serializer = journalConfig.GetString("serializer", null);
        _defaultSerializer = string.IsNullOrEmpty(serializer) || serializer == "null" ? null : serializer;
        _writer = JournalRowWriter.TryCreate(journalConfig, Context.System.Name);
        _recovery = DirectRecovery.ForJournal(journalConfig, Context.System, _defaultSerializer);
        // The direct write path's breaker, configured as the plugin's (AsyncWriteJournal keeps its own private).
        _breaker = new CircuitBreaker(Context.System.Scheduler,
            journalConfig.GetInt("circuit-breaker.max-failures", 0),
            journalConfig.GetTimeSpan("circuit-breaker.call-timeout", null),
            journalConfig.GetTimeSpan("circuit-breaker.reset-timeout", null));
        if (_writer is null)
            _log.Info("The journal's table mapping or provider is not the default SQLite/PostgreSQL one: writes take Akka.Persistence.Sql's own path");
    }

    /// <summary>
    /// A write goes to the writer from here, and the writer thread answers the persistent actor itself, in the order
    /// Akka.Persistence's <c>AsyncWriteJournal</c> answers (<see cref="WriteMessagesSuccessful"/> or
    /// <see cref="WriteMessagesFailed"/>, then one reply per event and loop message, each with its own sender), instead
    /// of through the journal's resequencer actor: a mailbox hop per write, and with it a thread-pool work item
    /// (bench/NOTES.md, "Issue 15, tenth sitting").
    /// </summary>
    /// <remarks>
    /// The resequencer orders the replies of writes that complete out of order. Here the writer commits and completes
    /// writes in the order they were queued, each write's replies told before the next completes. But
    /// <c>Eventsourced</c> sends its next batch as soon as the last one's <see cref="WriteMessagesSuccessful"/> arrives,
    /// while that write's per-event replies are still going out: a next write answered anywhere but the writer thread
    /// (loop messages only, a write rejected in its preparation, a tagged write on the plugin's path) waits for them
    /// (<see cref="AfterEarlierReplies{T}"/>). A write rejected before it reaches the writer (a payload that cannot be
    /// serialised) is answered as the plugin answers it. A journal without the writer takes the plugin's own path.
    /// </remarks>
    protected override bool AroundReceive(Receive receive, object message)
    {
        if (message is WriteMessages write && _writer is not null)
        {
            if (!write.Messages.Any(m => m is AtomicWrite a && IsTagged(a))) WriteDirect(write);
            else if (!AfterEarlierReplies(write.PersistentActor, Self, write, static (self, w) => self.Tell(new TaggedWrite(w))))
                base.AroundReceive(receive, write);
            return true;
        }
        if (message is TaggedWrite tagged) return base.AroundReceive(receive, tagged.Write);
        return base.AroundReceive(receive, message);
    }

    /// <summary>A tagged write (the plugin's own path) that waited for the replies of its actor's last direct write.</summary>
    private sealed record TaggedWrite(WriteMessages Write);

    /// <summary>
    /// Each persistent actor's last direct write: the task that ends once its replies have all been told. A persistent
    /// actor sends its next write as soon as the last one's <see cref="WriteMessagesSuccessful"/> arrives, before the
    /// per-event replies behind it; whatever answers that next write (the writer thread, this actor for a write of loop
    /// messages only or one rejected in its preparation, the plugin's resequencer for a tagged one) must not overtake
    /// them, or Akka.Persistence runs the first event's handler with the next write's reply.
    /// </summary>
    private readonly Dictionary<IActorRef, Task> _replying = new();
    private int _replyingSweepAt = MinSweep;

    /// <summary>
    /// Runs <paramref name="action"/> once the replies of <paramref name="actor"/>'s last direct write have been told and
    /// answers true, or answers false (nothing run) when they already have: the caller acts now.
    /// </summary>
    private bool AfterEarlierReplies<T>(IActorRef actor, IActorRef self, T state, Action<IActorRef, T> action)
    {
        if (!_replying.TryGetValue(actor, out var last)) return false;
        if (last.IsCompleted)
        {
            _replying.Remove(actor);
            return false;
        }
        Replying(actor, last.ContinueWith(static (_, s) =>
            {
                var (self, state, action) = ((IActorRef, T, Action<IActorRef, T>))s!;
                action(self, state);
            }, (self, state, action), CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default));
        return true;
    }

    /// <summary>Records <paramref name="replied"/> as <paramref name="actor"/>'s last replies; sweeps finished ones as the writes table.</summary>
    private void Replying(IActorRef actor, Task replied)
    {
        _replying[actor] = replied;
        if (_replying.Count < _replyingSweepAt) return;
        foreach (var (a, t) in _replying)
            if (t.IsCompleted) _replying.Remove(a);
        _replyingSweepAt = Math.Max(MinSweep, 2 * _replying.Count);
    }

    private void WriteDirect(WriteMessages message)
    {
        var self = Self;
        var atomicWrites = 0;
        foreach (var m in message.Messages)
            if (m is AtomicWrite) atomicWrites++;
        if (atomicWrites == 0)
        {
            // Only loop messages (a DeferAsync queued while a write was in flight): nothing to store. Answered after the
            // last write's replies, which may still be going out from the writer thread.
            if (!AfterEarlierReplies(message.PersistentActor, self, message, static (self, m) => Reply(m, 0, null, null, self)))
                Reply(message, 0, null, null, self);
            return;
        }
        Task<IImmutableList<Exception>> stored;
        try
        {
            // The plugin's own preparation (event adapters, the sender dropped), then this journal's rows.
            var prepared = PreparePersistentBatch(message.Messages).ToList();
            stored = _breaker.WithCircuitBreaker((journal: this, prepared), static (s, _) => s.journal.Store(s.prepared));
        }
        catch (Exception e)
        {
            // As the plugin: a write that fails in its preparation is rejected, every atomic write of it.
            var rejected = ImmutableList.CreateRange(Enumerable.Repeat(e, atomicWrites));
            if (!AfterEarlierReplies(message.PersistentActor, self, (message, atomicWrites, rejected),
                    static (self, s) => Reply(s.message, s.atomicWrites, s.rejected, null, self)))
                Reply(message, atomicWrites, rejected, null, self);
            return;
        }
        // Continues where the write completes (the writer thread, once committed): a few Tells. The writer completes
        // writes in the order they were queued, so this actor's earlier replies have gone out by then.
        Replying(message.PersistentActor, stored.ContinueWith(static (t, state) =>
            {
                var (message, atomicWrites, self) = ((WriteMessages, int, IActorRef))state!;
                if (t.Exception is { } failed) Reply(message, atomicWrites, null, TryUnwrapException(failed), self);
                else Reply(message, atomicWrites, t.Result, null, self);
            }, (message, atomicWrites, self), CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default));
    }

    /// <summary>
    /// Answers a write as <c>AsyncWriteJournal</c> does, in its order: the batch's outcome, then each event's (stored,
    /// rejected with its write's exception, or failed) and each loop message's, with the sender each came with.
    /// </summary>
    private static void Reply(WriteMessages message, int atomicWrites, IImmutableList<Exception>? results, Exception? failure, IActorRef self)
    {
        var target = message.PersistentActor;
        if (failure is null && results is not null && results.Count != atomicWrites)
        {
            failure = new IllegalStateException($"AsyncWriteMessages return invalid number or results. Expected [{atomicWrites}], but got [{results.Count}].");
            results = null;
        }
        target.Tell(failure is null ? WriteMessagesSuccessful.Instance : new WriteMessagesFailed(failure, atomicWrites), self);
        var w = 0;
        foreach (var m in message.Messages)
        {
            if (m is AtomicWrite aw)
            {
                var rejected = failure is null ? results?[w] : null;
                w++;
                foreach (var p in (IEnumerable<IPersistentRepresentation>)aw.Payload)
                    target.Tell(failure is not null ? new WriteMessageFailure(p, failure, message.ActorInstanceId)
                        : rejected is null ? new WriteMessageSuccess(p, message.ActorInstanceId)
                        : new WriteMessageRejected(p, rejected, message.ActorInstanceId), p.Sender);
            }
            else target.Tell(new LoopMessageSuccess(m.Payload, message.ActorInstanceId), m.Sender);
        }
    }

    protected override Task<IImmutableList<Exception>> WriteMessagesAsync(IEnumerable<AtomicWrite> messages, CancellationToken cancellationToken)
    {
        var writes = messages as IReadOnlyList<AtomicWrite> ?? messages.ToList();
        if (_writer is null || writes.Any(IsTagged)) return base.WriteMessagesAsync(writes, cancellationToken);
        return Store(writes);
    }

    /// <summary>Serialises <paramref name="writes"/> and queues them to the writer; the plugin's result contract.</summary>
    private Task<IImmutableList<Exception>> Store(IReadOnlyList<AtomicWrite> writes)
    {
        if (writes.Count == 0) return Task.FromResult<IImmutableList<Exception>>(null!);
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
        var done = rows.Count == 0 ? Task.CompletedTask : _writer!.WriteAsync(rows);
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
