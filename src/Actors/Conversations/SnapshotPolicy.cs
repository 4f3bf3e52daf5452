using Akka.Persistence;
using Akka.Sync.Protocol;

namespace Akka.Sync.Actors.Conversations;

/// <summary>What a conversation snapshot holds: its state and the index of its whole log.</summary>
public sealed record ConversationSnapshot(ConversationState State, IndexEntry[] Index) : ISyncMessage;

/// <summary>
/// When a conversation snapshots: every <paramref name="every"/> journal entries. A snapshot only shortens recovery;
/// journal events are never deleted (the journal is the history), only the snapshots a newer one replaces.
/// </summary>
public sealed class SnapshotPolicy(int every)
{
    private long _lastSeqNr; // the journal sequence number of the latest snapshot

    /// <summary>Recovery started from the snapshot taken at <paramref name="journalSeqNr"/>.</summary>
    public void Offered(long journalSeqNr) => _lastSeqNr = journalSeqNr;

    /// <summary>The snapshot to save now that the journal is at <paramref name="journalSeqNr"/>; null when not yet due.</summary>
    public ConversationSnapshot? Due(long journalSeqNr, ConversationState state, EventIndex index)
    {
        if (journalSeqNr - _lastSeqNr < every) return null;
        _lastSeqNr = journalSeqNr;
        return new ConversationSnapshot(state, index.Entries.ToArray());
    }

    /// <summary>The snapshots a newly saved one replaces: every older one.</summary>
    public static SnapshotSelectionCriteria Superseded(SnapshotMetadata saved) => new(saved.SequenceNr - 1);
}
