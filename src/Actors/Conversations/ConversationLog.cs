using Akka.Actor;
using Akka.Sync.Protocol;
using static Akka.Sync.Protocol.ConversationQueries;
using static Akka.Sync.Protocol.ConversationReplies;
using static Akka.Sync.Protocol.ConversationSubscription;

namespace Akka.Sync.Actors.Conversations;

/// <summary>
/// A conversation's log as its actor holds it: the index of every durable event, the bodies of the most recent ones,
/// and the ids of events still being written (for idempotency). Bodies older than the tail are read from the journal.
/// It also answers the conversation's reads (search, count, get, replay ranges), so the actor only routes them.
/// Owned by one <see cref="ConversationActor"/>; not thread-safe.
/// </summary>
public sealed class ConversationLog(ActorSystem system, ConversationId id, string persistenceId, int tailSize)
{
    private readonly EventTail _tail = new(tailSize);
    private readonly Dictionary<string, long> _inFlight = new(StringComparer.Ordinal);
    // After a state snapshot: the index of its log is loaded while the journal after it replays (LoadIndexAsync); the
    // entries replayed wait here until it is there.
    private Task<IndexSegments.Loaded>? _loading;
    private List<IndexEntry>? _replayed;

    public EventIndex Index { get; private set; } = new();

    /// <summary>True from a state snapshot's offer until its log's index is loaded (<see cref="IndexLoaded"/>).</summary>
    public bool IndexPending => _replayed is not null;

    /// <summary>
    /// Recovery starts from a state snapshot of seqs 1..<paramref name="seq"/>, taken at <paramref name="journalSeqNr"/>:
    /// loading its index starts now, beside the replay of the journal after it.
    /// </summary>
    public void RecoveringFrom(long seq, long journalSeqNr)
    {
        _loading = IndexSegments.LoadAsync(system, persistenceId, seq, journalSeqNr);
        _replayed = [];
    }

    /// <summary>The snapshotted log's index: saved segments, then the journal (see <see cref="IndexSegments.LoadAsync"/>).</summary>
    public Task<IndexSegments.Loaded> LoadIndexAsync() => _loading ?? Task.FromResult(new IndexSegments.Loaded(Index, 0));

    /// <summary>The snapshotted log's index is loaded: the entries replayed after the snapshot follow it.</summary>
    public void IndexLoaded(EventIndex index)
    {
        foreach (var e in _replayed ?? []) index.Add(e);
        Index = index;
        _replayed = null;
        _loading = null;
    }

    /// <summary>An event handed to the journal but not yet durable.</summary>
    public void Writing(EventEnvelope e) => _inFlight[e.Id] = e.Seq;

    /// <summary>An event now durable at <paramref name="journalSeqNr"/> (also during recovery).</summary>
    public void Written(EventEnvelope e, long journalSeqNr)
    {
        _inFlight.Remove(e.Id);
        var entry = new IndexEntry(e.Seq, journalSeqNr, e.Id, e.Kind, e.Source, e.TimestampTicks);
        if (_replayed is not null) _replayed.Add(entry);
        else Index.Add(entry);
        _tail.Add(e);
    }

    /// <summary>The seq of an event id that is durable or being written; null when unknown.</summary>
    public long? SeqOfAny(string eventId) =>
        Index.SeqOf(eventId) ?? (_inFlight.TryGetValue(eventId, out var seq) ? seq : null);

    /// <summary>Bodies of indexed events: from the tail when held, otherwise from the journal.</summary>
    public Task<byte[][]> Bodies(List<IndexEntry> entries)
    {
        if (entries.All(e => _tail.Covers(e.Seq)))
            return Task.FromResult(entries.Select(e => _tail.Get(e.Seq)!.Json).ToArray());
        var bySeq = entries.Select(e => e.Seq).ToHashSet();
        var (from, to) = (entries.Min(e => e.JournalSeqNr), entries.Max(e => e.JournalSeqNr));
        // A page of a filtered search in a long log can spread over most of it: read its rows only, not the span.
        var read = to - from < 2L * entries.Count + 16
            ? JournalReader.Read(system, persistenceId, from, to, wanted: bySeq.Contains)
            : JournalReader.ReadAt(system, persistenceId, entries.Select(e => e.JournalSeqNr).Distinct().ToArray(), bySeq.Contains);
        return read
            .ContinueWith(t =>
            {
                var found = t.Result.Where(e => bySeq.Contains(e.Seq)).ToDictionary(e => e.Seq);
                return entries.Select(e => found[e.Seq].Json).ToArray();
            }, TaskContinuationOptions.OnlyOnRanToCompletion);
    }

    /// <summary>
    /// Durable events <c>from ≤ seq ≤ to</c>, at most <paramref name="max"/> and, past the first, at most
    /// <paramref name="maxBytes"/> of JSON, from the tail or the journal.
    /// </summary>
    public Task<EventEnvelope[]> Range(long from, long to, int max, long maxBytes = long.MaxValue)
    {
        if (from > to || from < 1) return Task.FromResult(Array.Empty<EventEnvelope>());
        if (_tail.Covers(from)) return Task.FromResult(WithinBytes(_tail.Range(from, to, max), maxBytes));
        var last = Math.Min(to, from + max - 1);
        return JournalReader.Read(system, persistenceId, Index.JournalSeqNrOf(from), Index.JournalSeqNrOf(last), maxBytes,
                wanted: seq => seq >= from && seq <= last)
            .ContinueWith(t => t.Result.Where(e => e.Seq >= from && e.Seq <= last).ToArray(), TaskContinuationOptions.OnlyOnRanToCompletion);
    }

    /// <summary>The leading events whose JSON fits in <paramref name="maxBytes"/> (always the first).</summary>
    private static EventEnvelope[] WithinBytes(EventEnvelope[] events, long maxBytes)
    {
        var total = 0L;
        for (var i = 0; i < events.Length; i++)
        {
            total += events[i].Json.Length;
            if (total > maxBytes && i > 0) return events[..i];
        }
        return events;
    }

    // ---- reads (a conversation that is not live answers not found) ----

    public EventCount Count(EventFilter filter, bool live) =>
        live ? new EventCount(ResultCode.Ok, Index.CountMatching(filter)) : new EventCount(ResultCode.NotFound, 0);

    /// <summary>One page of a search, answered now (not found, unknown page) or once its bodies are read.</summary>
    public void Search(SearchEvents q, bool live, IActorRef replyTo)
    {
        if (!live) { replyTo.Tell(new EventPage(ResultCode.NotFound, [], null)); return; }
        var (items, next, unknownPage) = Index.Page(q.Filter, q.PageId, q.Limit, q.Descending);
        if (unknownPage) { replyTo.Tell(new EventPage(ResultCode.BadRequest, [], null)); return; }
        Bodies(items).PipeTo(replyTo, success: bodies => new EventPage(ResultCode.Ok, bodies, next),
            failure: _ => new EventPage(ResultCode.Unavailable, [], null));
    }

    public void Get(string eventId, bool live, IActorRef replyTo)
    {
        if (!live || Index.SeqOf(eventId) is not { } seq) { replyTo.Tell(new EventResult(ResultCode.NotFound, null)); return; }
        Bodies([Index.At(seq)]).PipeTo(replyTo, success: b => new EventResult(ResultCode.Ok, b[0]),
            failure: _ => new EventResult(ResultCode.Unavailable, null));
    }

    /// <summary>
    /// A replay chunk: durable events only (up to <paramref name="lastSeq"/>), at most <paramref name="chunk"/> and
    /// <paramref name="chunkBytes"/> — a chunk that crosses nodes must fit a remoting frame, or it is dropped and the
    /// socket waits for it forever.
    /// </summary>
    public void Read(ReadRange r, long lastSeq, int chunk, long chunkBytes, IActorRef replyTo) =>
        Range(r.FromSeq, Math.Min(r.ToSeq, lastSeq), Math.Clamp(r.Max, 1, chunk), chunkBytes)
            .PipeTo(replyTo, success: events => new EventRange(id, events));
}
