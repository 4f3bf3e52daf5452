using Akka.Actor;
using Akka.Sync.Protocol;
using Akka.Sync.Protocol.V1;
using static Akka.Sync.Protocol.ConversationSubscription;

namespace Akka.Sync.Actors.Conversations;

/// <summary>
/// A conversation's subscribers: who may subscribe and where their replay starts, then publishing — one message per
/// publish target per durable write, every target sharing the same bytes. A target is a socket's connection actor that
/// subscribed itself, or a node relay that subscribed sockets of its node (<see cref="Subscribe.Relay"/>): each socket is
/// checked and counted against the limit, but the write crosses to a relay's node once, whatever its number of sockets.
/// Owned by one <see cref="ConversationActor"/>; not thread-safe. It watches its targets through
/// <paramref name="watcher"/> (the actor's context), which is told <see cref="Terminated"/> when one stops.
/// </summary>
public sealed class SubscriberSet(ConversationId id, int max, ICanWatch watcher)
{
    /// <summary>Publish target → the sockets it serves (a socket that subscribed itself serves itself).</summary>
    private readonly Dictionary<IActorRef, HashSet<IActorRef>> _targets = [];
    private int _sockets;

    /// <summary>A watched publish target stopped (the message the watch delivers to the owning actor).</summary>
    public sealed record Terminated(IActorRef Subscriber);

    /// <summary>Sockets subscribed, directly or through a relay: what <c>Limits:MaxSocketsPerConversation</c> bounds.</summary>
    public int Count => _sockets;

    /// <summary>Where each write goes: sockets that subscribed themselves and node relays.</summary>
    public int Targets => _targets.Count;

    /// <summary>The last seq every subscriber has been sent: publishing moves it, recovery sets it.</summary>
    public long PublishedSeq { get; set; }

    private static IActorRef TargetOf(Subscribe s) => s.Relay ?? s.Subscriber;

    private bool Holds(IActorRef target, IActorRef socket) => _targets.TryGetValue(target, out var set) && set.Contains(socket);

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
        if (!Holds(TargetOf(s), s.Subscriber) && _sockets >= max) return RefusalReason.TooManySubscribers;
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

    /// <summary>
    /// Checks a subscription and, when it passes, adds the socket (and watches its publish target): the answer is
    /// <see cref="Subscribed"/> or <see cref="Refused"/>, naming the socket when it goes to a relay.
    /// </summary>
    public object Subscribe(Subscribe s, ConversationState state, EventIndex index, DateTime nowUtc)
    {
        var forSocket = s.Relay is null ? null : s.Subscriber;
        if (Check(s, state, index, out var replayAfter) is { } refusal) return new Refused(id, refusal, forSocket);
        Add(TargetOf(s), [s.Subscriber]);
        return new Subscribed(id, PublishedSeq, replayAfter, V1Json.FullState(state.Info, nowUtc), forSocket);
    }

    /// <summary>
    /// A relay (re)attaches with sockets it already holds (the entity moved, or the relay checks a quiet conversation):
    /// added without the admission checks, answered with the last published seq.
    /// </summary>
    public object Resubscribe(Resubscribe r, ConversationState state)
    {
        if (!state.IsLive) return new Refused(id, RefusalReason.NotFound, r.Relay);
        Add(r.Relay, r.Sockets);
        return new Subscribed(id, PublishedSeq, PublishedSeq, [], r.Relay);
    }

    private void Add(IActorRef target, IEnumerable<IActorRef> sockets)
    {
        if (!_targets.TryGetValue(target, out var set))
        {
            _targets[target] = set = [];
            watcher.WatchWith(target, new Terminated(target));
        }
        foreach (var socket in sockets)
            if (set.Add(socket)) _sockets++;
    }

    /// <summary>A publish target stopped or went away: it and every socket it served are gone.</summary>
    public void Remove(IActorRef target)
    {
        if (!_targets.Remove(target, out var set)) return;
        _sockets -= set.Count;
        watcher.Unwatch(target);
    }

    /// <summary>One socket left; a relay left with no socket is no longer published to.</summary>
    public void Unsubscribe(Unsubscribe u)
    {
        if (u.Relay is null)
        {
            Remove(u.Subscriber);
            return;
        }
        if (!_targets.TryGetValue(u.Relay, out var set) || !set.Remove(u.Subscriber)) return;
        _sockets--;
        if (set.Count == 0) Remove(u.Relay);
    }

    /// <summary>
    /// Sends a durable batch's events, the same bytes to each, to every target: one message per target per write
    /// (<see cref="EventsPublished"/>, or the lone <see cref="EventEnvelope"/>), not one per event nor per relayed socket.
    /// </summary>
    public void Publish(IReadOnlyList<object> events)
    {
        var envelopes = events as EventEnvelope[] ?? events.OfType<EventEnvelope>().ToArray(); // a stamped write is one already
        if (envelopes.Length == 0) return;
        PublishedSeq = envelopes[^1].Seq;
        object message = envelopes.Length == 1 ? envelopes[0] : new EventsPublished(id, envelopes);
        foreach (var s in _targets.Keys) s.Tell(message);
    }

    /// <summary>Ends every subscription (the conversation was deleted): each target is told, and the set empties.</summary>
    public void EndAll(RefusalReason reason)
    {
        foreach (var s in _targets.Keys) s.Tell(new Ended(id, reason));
        _targets.Clear();
        _sockets = 0;
    }
}
