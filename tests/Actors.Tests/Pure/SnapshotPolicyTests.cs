using Akka.Persistence;
using Akka.Sync.Actors.Conversations;
using Akka.Sync.Protocol;
using Xunit;

namespace Akka.Sync.Actors.Tests.Pure;

/// <summary>When a conversation snapshots its state and saves its index segments, and what they hold, with no actor system.</summary>
public sealed class SnapshotPolicyTests
{
    private static readonly ConversationState State = ConversationState.Empty(ConversationId.New());

    private static EventIndex Index(int count)
    {
        var index = new EventIndex();
        for (var seq = 1; seq <= count; seq++) index.Add(new IndexEntry(seq, seq + 1, Guid.NewGuid().ToString("D"), "X", "agent", seq));
        return index;
    }

    private static (long First, long Last) Span(IndexSegment? s) => s is null ? (0, 0) : (s.FirstSeq, s.LastSeq);

    [Fact]
    public void A_state_snapshot_is_due_every_so_many_journal_entries_counted_from_the_last_one_and_holds_the_state_only()
    {
        var policy = new SnapshotPolicy(every: 10);
        Assert.Null(policy.Due(9, State));
        var snapshot = policy.Due(10, State);
        Assert.NotNull(snapshot);
        Assert.Same(State, snapshot.State);
        Assert.Null(policy.Due(19, State));
        Assert.NotNull(policy.Due(21, State));
    }

    [Fact]
    public void Recovery_from_a_snapshot_counts_from_it_and_a_saved_snapshot_replaces_every_older_one()
    {
        var policy = new SnapshotPolicy(every: 10);
        policy.Offered(100);
        Assert.Null(policy.Due(109, State));
        Assert.NotNull(policy.Due(110, State));
        Assert.Equal(109, SnapshotPolicy.Superseded(new SnapshotMetadata("p", 110, DateTime.UtcNow)).MaxSequenceNr);
    }

    [Fact]
    public void A_segment_holds_only_the_entries_no_saved_segment_holds_and_one_is_saved_at_a_time()
    {
        var policy = new SnapshotPolicy(every: 10);
        Assert.Null(policy.SegmentDue(Index(9)));
        Assert.Equal((1, 10), Span(policy.SegmentDue(Index(10))));
        Assert.Null(policy.SegmentDue(Index(30))); // the first is still being saved
        Assert.Null(policy.SegmentSaved(10, 11, State));
        Assert.Null(policy.SegmentDue(Index(19)));
        Assert.Equal((11, 20), Span(policy.SegmentDue(Index(20))));
        policy.SegmentFailed(20);
        // A failed segment's entries go with the next one.
        Assert.Equal((11, 25), Span(policy.SegmentDue(Index(25))));
    }

    [Fact]
    public void Segments_carry_on_from_where_the_saved_ones_reach_after_recovery()
    {
        var policy = new SnapshotPolicy(every: 10);
        policy.SegmentsFound(40);
        Assert.Null(policy.SegmentDue(Index(49)));
        Assert.Equal((41, 50), Span(policy.SegmentDue(Index(50))));
    }

    [Fact]
    public void After_a_legacy_snapshot_the_whole_index_is_saved_in_bounded_segments_then_a_state_snapshot_replaces_it()
    {
        var policy = new SnapshotPolicy(every: 10, maxSegment: 4);
        policy.OfferedLegacy(7);
        var index = Index(6);
        var state = State with { LastSeq = 6 };
        Assert.Equal((1, 4), Span(policy.SegmentDue(index)));
        Assert.Null(policy.SegmentSaved(4, 7, state));
        Assert.Equal((5, 6), Span(policy.SegmentDue(index))); // fewer than `every`: due all the same
        var replacement = policy.SegmentSaved(6, 7, state);
        Assert.NotNull(replacement);
        Assert.Same(state, replacement.State);
        Assert.Null(policy.SegmentDue(index));
        Assert.Null(policy.Due(16, state)); // the replacement counts as the latest state snapshot
    }
}
