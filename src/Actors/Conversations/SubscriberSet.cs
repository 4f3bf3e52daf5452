using Akka.Actor;
using Akka.Sync.Protocol;
using Akka.Sync.Protocol.V1;
using static Akka.Sync.Protocol.ConversationSubscription;

namespace Akka.Sync.Actors.Conversations;

/// <summary>
/// A conversation's subscribers (connection actors, node relays): who may subscribe and where their replay starts,
/// then publishing — one message per subscriber per durable write, every subscriber sharing the same bytes.
/// Owned by one <see cref="ConversationActor"/>; not thread-safe. It watches its subscribers through
/// <paramref name="watcher"/> (the actor's context), which is told <see cref="Terminated"/> when one stops.
/// </summary>
public sealed class SubscriberSet(ConversationId id, int max, ICanWatch watcher)
{
    private readonly HashSet<IActorRef> _subscribers = [];

    /// <summary>A watched subscriber stopped (the message the watch delivers to the owning actor).</summary>
    public sealed record Terminated(IActorRef Subscriber);

    public int Count => _subscribers.Count;

    /// <summary>The last seq every subscriber has been sent: publishing moves it, recovery sets it.</summary>
    public long PublishedSeq { get; set; }

    /// <summary>
    /// The checks, in order: not found, wrong dialect, unknown replay start, too many subscribers (a subscriber
    /// already in the set is not counted twice). Null when the subscription may go ahead.
    /// </summary>
    public RefusalReason? Check(Subscribe s, ConversationState state, EventIndex index, out long replayAfter)
    {
        replayAfter = 0;
        if (!state.IsLive) return RefusalReason.NotFound;
        if (s.Dialect != state.Dialect) return RefusalReason.WrongProtocol;
        if (ReplayAfter(s.From, state, index) is not { } after) return RefusalReason.UnknownAfterEventId;
        if (!_subscribers.Contains(s.Subscriber) && _subscribers.Count >= max) return RefusalReason.TooManySubscribers;
        // Everything after PublishedSeq will be published to the subscriber; the rest it reads as replay.
        replayAfter = Math.Min(after, PublishedSeq);
        return null;
    }

    /// <summary>The seq a replay starts after; null for an event id the log does not hold.</summary>
    private long? ReplayAfter(ReplayFrom from, ConversationState state, EventIndex index) => from.Kind switch
    {
        ReplayKind.LiveOnly => PublishedSeq,
        ReplayKind.All => 0,
        ReplayKind.AfterSeq => Math.Min(from.AfterSeq, state.LastSeq),
        ReplayKind.AfterEventId => from.AfterEventId is { } eid ? index.SeqOf(eid) : null,
        ReplayKind.SinceTimestamp => index.LastSeqBefore(from.SinceTicks),
        _ => null,
    };

    /// <summary>Checks a subscription and, when it passes, adds and watches the subscriber: the answer is <see cref="Subscribed"/> or <see cref="Refused"/>.</summary>
    public object Subscribe(Subscribe s, ConversationState state, EventIndex index, DateTime nowUtc)
    {
        if (Check(s, state, index, out var replayAfter) is { } refusal) return new Refused(id, refusal);
        if (_subscribers.Add(s.Subscriber))
            watcher.WatchWith(s.Subscriber, new Terminated(s.Subscriber));
        return new Subscribed(id, PublishedSeq, replayAfter, V1Json.FullState(state.Info, nowUtc));
    }

    public void Remove(IActorRef subscriber)
    {
        if (_subscribers.Remove(subscriber)) watcher.Unwatch(subscriber);
    }

    /// <summary>
    /// Sends a durable batch's events, the same bytes to each, to every subscriber: one message per subscriber per
    /// write (<see cref="EventsPublished"/>, or the lone <see cref="EventEnvelope"/>), not one per event.
    /// </summary>
    public void Publish(IReadOnlyList<object> events)
    {
        var envelopes = events.OfType<EventEnvelope>().ToArray();
        if (envelopes.Length == 0) return;
        PublishedSeq = envelopes[^1].Seq;
        object message = envelopes.Length == 1 ? envelopes[0] : new EventsPublished(id, envelopes);
        foreach (var s in _subscribers) s.Tell(message);
    }

    /// <summary>Ends every subscription (the conversation was deleted): each subscriber is told, and the set empties.</summary>
    public void EndAll(RefusalReason reason)
    {
        foreach (var s in _subscribers) s.Tell(new Ended(id, reason));
        _subscribers.Clear();
    }
}
