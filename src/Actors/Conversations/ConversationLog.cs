using Akka.Actor;
using Akka.Sync.Protocol;

namespace Akka.Sync.Actors.Conversations;

/// <summary>
/// A conversation's log as its actor holds it: the index of every durable event, the bodies of the most recent ones,
/// and the ids of events still being written (for idempotency). Bodies older than the tail are read from the journal.
/// Owned by one <see cref="ConversationActor"/>; not thread-safe.
/// </summary>
public sealed class ConversationLog(ActorSystem system, string persistenceId, int tailSize)
{
    private readonly EventTail _tail = new(tailSize);
    private readonly Dictionary<string, long> _inFlight = new(StringComparer.Ordinal);

    public EventIndex Index { get; } = new();

    /// <summary>An event handed to the journal but not yet durable.</summary>
    public void Writing(EventEnvelope e) => _inFlight[e.Id] = e.Seq;

    /// <summary>An event now durable at <paramref name="journalSeqNr"/> (also during recovery).</summary>
    public void Written(EventEnvelope e, long journalSeqNr)
    {
        _inFlight.Remove(e.Id);
        Index.Add(new IndexEntry(e.Seq, journalSeqNr, e.Id, e.Kind, e.Source, e.TimestampTicks));
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
        return JournalReader.Read(system, persistenceId, entries.Min(e => e.JournalSeqNr), entries.Max(e => e.JournalSeqNr))
            .ContinueWith(t =>
            {
                var found = t.Result.Where(e => bySeq.Contains(e.Seq)).ToDictionary(e => e.Seq);
                return entries.Select(e => found[e.Seq].Json).ToArray();
            }, TaskContinuationOptions.OnlyOnRanToCompletion);
    }

    /// <summary>Durable events <c>from ≤ seq ≤ to</c>, at most <paramref name="max"/>, from the tail or the journal.</summary>
    public Task<EventEnvelope[]> Range(long from, long to, int max)
    {
        if (from > to || from < 1) return Task.FromResult(Array.Empty<EventEnvelope>());
        if (_tail.Covers(from)) return Task.FromResult(_tail.Range(from, to, max));
        var last = Math.Min(to, from + max - 1);
        return JournalReader.Read(system, persistenceId, Index.At(from).JournalSeqNr, Index.At(last).JournalSeqNr)
            .ContinueWith(t => t.Result.Where(e => e.Seq >= from && e.Seq <= last).ToArray(), TaskContinuationOptions.OnlyOnRanToCompletion);
    }
}
