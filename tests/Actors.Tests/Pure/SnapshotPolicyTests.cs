using Akka.Persistence;
using Akka.Sync.Actors.Conversations;
using Akka.Sync.Protocol;
using Xunit;

namespace Akka.Sync.Actors.Tests.Pure;

/// <summary>When a conversation snapshots and what it keeps, with no actor system.</summary>
public sealed class SnapshotPolicyTests
{
    private static readonly ConversationState State = ConversationState.Empty(ConversationId.New());

    private static EventIndex Index(int count)
    {
        var index = new EventIndex();
        for (var seq = 1; seq <= count; seq++) index.Add(new IndexEntry(seq, seq + 1, "e" + seq, "X", "agent", seq));
        return index;
    }

    [Fact]
    public void A_snapshot_is_due_every_so_many_journal_entries_counted_from_the_last_one()
    {
        var policy = new SnapshotPolicy(every: 10);
        Assert.Null(policy.Due(9, State, Index(3)));
        var snapshot = policy.Due(10, State, Index(3));
        Assert.NotNull(snapshot);
        Assert.Same(State, snapshot.State);
        Assert.Equal(["e1", "e2", "e3"], snapshot.Index.Select(e => e.Id));
        Assert.Null(policy.Due(19, State, Index(3)));
        Assert.NotNull(policy.Due(21, State, Index(3)));
    }

    [Fact]
    public void Recovery_from_a_snapshot_counts_from_it_and_a_saved_snapshot_replaces_every_older_one()
    {
        var policy = new SnapshotPolicy(every: 10);
        policy.Offered(100);
        Assert.Null(policy.Due(109, State, Index(1)));
        Assert.NotNull(policy.Due(110, State, Index(1)));
        Assert.Equal(109, SnapshotPolicy.Superseded(new SnapshotMetadata("p", 110, DateTime.UtcNow)).MaxSequenceNr);
    }
}
