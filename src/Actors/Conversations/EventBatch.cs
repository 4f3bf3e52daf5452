using Akka.Sync.Protocol;

namespace Akka.Sync.Actors.Conversations;

/// <summary>
/// Several log entries of one conversation persisted as one journal row: what a write of more than one event (an
/// agent batch, a message and its status change) stores, atomically, with one sequence number. The index records the
/// row's sequence number for each entry in it (<see cref="EventIndex.JournalSeqNrOf"/>); journal reads hand its entries
/// out one by one (<see cref="JournalReader"/>). Rows of single <see cref="EventEnvelope"/>s, as every write stored
/// before, are read as they were.
/// </summary>
public sealed record EventBatch(EventEnvelope[] Events) : ISyncMessage
{
    /// <summary>
    /// The most entries one row holds. Rows of 100 keep nearly all of the per-row saving at ingest (measured: server
    /// CPU per event at batches of 100 and 1,000 alike) and bound what a read of one event decodes to 100 entries.
    /// </summary>
    public const int MaxEntries = 100;

    /// <summary>A write's entries as rows of at most <see cref="MaxEntries"/>, in order.</summary>
    public static IEnumerable<EventBatch> Rows(EventEnvelope[] entries)
    {
        if (entries.Length <= MaxEntries)
        {
            yield return new EventBatch(entries);
            yield break;
        }
        for (var i = 0; i < entries.Length; i += MaxEntries)
            yield return new EventBatch(entries[i..Math.Min(entries.Length, i + MaxEntries)]);
    }
}
