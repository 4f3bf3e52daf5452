using Akka.Sync.Actors.Following;
using Akka.Sync.Protocol;
using Xunit;

namespace Akka.Sync.Actors.Tests.Pure;

/// <summary>The order a follower stores upstream events in, with no actor system.</summary>
public sealed class FollowQueueTests
{
    private static FollowedEvent E(string id) => new(id, "MessageEvent", "agent", null, "{}"u8.ToArray());

    private static List<string> Drain(FollowQueue q)
    {
        var ids = new List<string>();
        while (q.NextBatch() is { } batch) ids.AddRange(q.Stored().Select(e => e.Id));
        return ids;
    }

    [Fact]
    public void While_catching_up_socket_events_wait_behind_every_page_then_live_ones_follow_them()
    {
        var q = new FollowQueue(batchSize: 2);
        q.FromSocket(E("live-1"));
        q.FromCatchUp([E("old-1"), E("old-2"), E("old-3")]);
        q.FromSocket(E("live-2"));
        Assert.Equal(["old-1", "old-2", "old-3"], Drain(q));
        q.FromCatchUp([E("old-4")]);
        q.CaughtUp();
        q.FromSocket(E("live-3"));
        Assert.Equal(["old-4", "live-1", "live-2", "live-3"], Drain(q));
    }

    [Fact]
    public void One_batch_is_in_flight_at_a_time_and_a_lost_link_keeps_it_but_drops_the_rest()
    {
        var q = new FollowQueue(batchSize: 2);
        q.FromCatchUp([E("a"), E("b"), E("c")]);
        q.FromSocket(E("held"));
        Assert.Equal(["a", "b"], q.NextBatch()!.Select(e => e.Id));
        Assert.Null(q.NextBatch());
        Assert.Equal(4, q.Pending);

        q.Reset();
        Assert.Equal(2, q.Pending); // the batch in flight: its answer will come
        Assert.Equal(["a", "b"], q.Stored().Select(e => e.Id));
        Assert.Null(q.NextBatch());
        Assert.False(q.Live);
    }
}
