using Akka.Sync.Protocol;

namespace Akka.Sync.Actors.Following;

/// <summary>
/// A follower's upstream events on their way into the log, in upstream order: while it catches up, the pages of
/// <c>events/search</c> go first and the socket's events are held; once caught up, the held events follow, then live
/// ones. One batch is in flight to the entity at a time (the next waits for its answer), so the order holds. A lost link
/// drops what was queued or held (it is read again from the last stored event) but not the batch in flight.
/// Owned by one <see cref="UpstreamFollower"/>; not thread-safe.
/// </summary>
public sealed class FollowQueue(int batchSize)
{
    private readonly List<FollowedEvent> _held = [];
    private readonly Queue<FollowedEvent> _queue = new();

    /// <summary>Caught up: socket events are queued, not held.</summary>
    public bool Live { get; private set; }

    public IReadOnlyList<FollowedEvent>? InFlight { get; private set; }

    /// <summary>Events received and not yet stored.</summary>
    public int Pending => _held.Count + _queue.Count + (InFlight?.Count ?? 0);

    /// <summary>Events queued (not held, not in flight): the catch-up reads its next page when these run low.</summary>
    public int Queued => _queue.Count;

    public void FromSocket(FollowedEvent e)
    {
        if (Live) _queue.Enqueue(e);
        else _held.Add(e);
    }

    public void FromCatchUp(IEnumerable<FollowedEvent> page)
    {
        foreach (var e in page) _queue.Enqueue(e);
    }

    /// <summary>The catch-up read its last page: the held socket events come next.</summary>
    public void CaughtUp()
    {
        Live = true;
        foreach (var e in _held) _queue.Enqueue(e);
        _held.Clear();
    }

    /// <summary>The next batch to send, now in flight; null while one is in flight or nothing is queued.</summary>
    public IReadOnlyList<FollowedEvent>? NextBatch()
    {
        if (InFlight is not null || _queue.Count == 0) return null;
        var batch = new FollowedEvent[Math.Min(_queue.Count, batchSize)];
        for (var i = 0; i < batch.Length; i++) batch[i] = _queue.Dequeue();
        return InFlight = batch;
    }

    /// <summary>The batch in flight is stored; returns it.</summary>
    public IReadOnlyList<FollowedEvent> Stored()
    {
        var batch = InFlight ?? throw new InvalidOperationException("no batch in flight");
        InFlight = null;
        return batch;
    }

    /// <summary>The link is lost: forget what was held or queued (the batch in flight stays, its answer will come).</summary>
    public void Reset()
    {
        Live = false;
        _held.Clear();
        _queue.Clear();
    }
}
