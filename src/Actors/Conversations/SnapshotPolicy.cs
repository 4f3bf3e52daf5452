using Akka.Persistence;
using Akka.Sync.Protocol;

namespace Akka.Sync.Actors.Conversations;

/// <summary>
/// What a conversation snapshot holds: its state only, a few hundred bytes however long the log. The index of the log
/// is saved beside it as <see cref="IndexSegment"/>s, each written once.
/// </summary>
public sealed record ConversationSnapshot(ConversationState State) : ISyncMessage;

/// <summary>
/// The snapshot format before long conversations: the state and the index of the whole log, rewritten in full every
/// time (O(log length) bytes per snapshot). Still read, so stored conversations recover; the first recovery from one
/// saves the index as segments and then a <see cref="ConversationSnapshot"/>, which replaces it.
/// </summary>
public sealed record LegacyConversationSnapshot(ConversationState State, IndexEntry[] Index) : ISyncMessage;

/// <summary>
/// When a conversation snapshots its state (every <paramref name="every"/> journal entries or log entries, whichever
/// comes first: a journal entry may hold a whole batch of log entries, and recovery replays what follows the snapshot) and saves its index (a
/// segment of the entries not yet saved, once at least <paramref name="every"/> of them wait, one save at a time, at
/// most <paramref name="maxSegment"/> entries a segment). A snapshot only shortens recovery; journal events are never
/// deleted (the journal is the history), only the state snapshots a newer one replaces.
/// </summary>
public sealed class SnapshotPolicy(int every, int maxSegment = 16_384)
{
    private long _lastSeqNr;      // the journal sequence number of the latest state snapshot
    private long _lastSeq;        // the last log entry (seq) the latest state snapshot covers
    private long _segmentsThrough; // the last seq the saved segments cover, contiguously from 1
    private long _savingThrough;   // the last seq of the segment being saved; 0 when none is
    private bool _legacy;          // recovered from a legacy snapshot that no state snapshot has replaced yet

    /// <summary>Recovery started from the snapshot taken at <paramref name="journalSeqNr"/>.</summary>
    public void Offered(long journalSeqNr, long seq = 0)
    {
        _lastSeqNr = journalSeqNr;
        _lastSeq = seq;
    }

    /// <summary>Recovery started from a legacy snapshot: no segment is known to be saved.</summary>
    public void OfferedLegacy(long journalSeqNr, long seq = 0)
    {
        Offered(journalSeqNr, seq);
        _legacy = true;
    }

    /// <summary>Recovery found saved segments covering seqs 1..<paramref name="seq"/>.</summary>
    public void SegmentsFound(long seq) => _segmentsThrough = seq;

    /// <summary>The state snapshot to save now that the journal is at <paramref name="journalSeqNr"/>; null when not yet due.</summary>
    public ConversationSnapshot? Due(long journalSeqNr, ConversationState state)
    {
        if (journalSeqNr - _lastSeqNr < every && state.LastSeq - _lastSeq < every) return null;
        _lastSeqNr = journalSeqNr;
        _lastSeq = state.LastSeq;
        return new ConversationSnapshot(state);
    }

    /// <summary>
    /// The next segment of <paramref name="index"/> to save, when one is due: none is being saved, and
    /// <paramref name="every"/> entries wait (any number after a legacy recovery, until they are all saved).
    /// </summary>
    public IndexSegment? SegmentDue(EventIndex index)
    {
        var waiting = index.Count - _segmentsThrough;
        if (_savingThrough != 0 || waiting <= 0 || waiting < every && !_legacy) return null;
        _savingThrough = _segmentsThrough + Math.Min(waiting, maxSegment);
        return IndexSegment.Encode(index, _segmentsThrough + 1, _savingThrough);
    }

    /// <summary>
    /// A segment was saved through <paramref name="seq"/>. Returns the state snapshot that replaces a legacy one, once
    /// the segments cover <paramref name="state"/>'s whole log; null otherwise.
    /// </summary>
    public ConversationSnapshot? SegmentSaved(long seq, long journalSeqNr, ConversationState state)
    {
        if (seq == _savingThrough) _savingThrough = 0;
        _segmentsThrough = Math.Max(_segmentsThrough, seq);
        if (!_legacy || _segmentsThrough < state.LastSeq) return null;
        _legacy = false;
        _lastSeqNr = journalSeqNr;
        _lastSeq = state.LastSeq;
        return new ConversationSnapshot(state);
    }

    /// <summary>A segment save failed: its entries wait for the next one.</summary>
    public void SegmentFailed(long seq)
    {
        if (seq == _savingThrough) _savingThrough = 0;
    }

    /// <summary>The state snapshots a newly saved one replaces: every older one.</summary>
    public static SnapshotSelectionCriteria Superseded(SnapshotMetadata saved) => new(saved.SequenceNr - 1);
}
