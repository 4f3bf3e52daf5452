using Akka.Actor;

namespace Akka.Sync.Protocol;

public enum ReplayKind
{
    /// <summary>Live events only (the V1 default, <c>resend_all=false</c>).</summary>
    LiveOnly = 0,
    /// <summary>Every stored event (<c>resend_all=true</c> / <c>resend_mode=all</c>).</summary>
    All = 1,
    /// <summary>Events after a known event id (<c>after_event_id</c>).</summary>
    AfterEventId = 2,
    /// <summary>Events with timestamp &gt;= a time (<c>resend_mode=since&amp;after_timestamp</c>).</summary>
    SinceTimestamp = 3,
    /// <summary>Events after a seq (a connection actor resubscribing after the entity moved).</summary>
    AfterSeq = 4,
}

public sealed record ReplayFrom(ReplayKind Kind, long AfterSeq = 0, string? AfterEventId = null, long SinceTicks = 0)
{
    public static readonly ReplayFrom LiveOnly = new(ReplayKind.LiveOnly);
    public static readonly ReplayFrom All = new(ReplayKind.All);
    public static ReplayFrom Seq(long afterSeq) => new(ReplayKind.AfterSeq, AfterSeq: afterSeq);
    public static ReplayFrom EventId(string id) => new(ReplayKind.AfterEventId, AfterEventId: id);
    public static ReplayFrom Since(DateTime utc) => new(ReplayKind.SinceTimestamp, SinceTicks: utc.Ticks);
}

public enum RefusalReason
{
    NotFound = 0,
    UnknownAfterEventId = 1,
    WrongProtocol = 2,
    /// <summary>The conversation was deleted while the subscriber was attached.</summary>
    Deleted = 3,
    /// <summary>The conversation already has as many sockets as it may.</summary>
    TooManySubscribers = 4,
}

/// <summary>
/// The hand-over protocol between a connection actor and its conversation entity:
/// subscribe (the reply carries the last published seq), read the replay range in chunks, then live.
/// Across nodes a socket subscribes through its node's relay for the conversation (<see cref="Subscribe.Relay"/>):
/// the entity checks and counts each socket but publishes once per relay, and the relay fans out on its node.
/// </summary>
public static class ConversationSubscription
{
    /// <param name="Subscriber">The socket's connection actor (checked and counted against the conversation's socket limit).</param>
    /// <param name="Relay">
    /// The node relay that sent this on the socket's behalf: the entity publishes to it instead of to the socket, and
    /// answers it (with <see cref="Subscribed.Subscriber"/> naming the socket). Null: the socket subscribes itself.
    /// </param>
    public sealed record Subscribe(ConversationId ConversationId, IActorRef Subscriber, ReplayFrom From, Dialect Dialect,
        IActorRef? Relay = null) : ISyncMessage, IWithConversationId;

    /// <summary>
    /// From now on every event with seq &gt; <see cref="LastSeq"/> is published to the subscriber (or its relay);
    /// the replay to read is (<see cref="ReplayAfterSeq"/>, <see cref="LastSeq"/>]. <see cref="Subscriber"/> names the
    /// socket an answer to a relay is for (the relay itself for <see cref="Resubscribe"/>); null when sent to the socket.
    /// </summary>
    public sealed record Subscribed(ConversationId ConversationId, long LastSeq, long ReplayAfterSeq, byte[] FullState,
        IActorRef? Subscriber = null) : ISyncMessage;

    public sealed record Refused(ConversationId ConversationId, RefusalReason Reason, IActorRef? Subscriber = null) : ISyncMessage;

    /// <param name="Relay">The relay the socket was subscribed through; null when it subscribed itself.</param>
    public sealed record Unsubscribe(ConversationId ConversationId, IActorRef Subscriber, IActorRef? Relay = null)
        : ISyncMessage, IWithConversationId;

    /// <summary>
    /// A relay whose sockets were already admitted (re)attaches itself: after the entity moved or restarted, and when its
    /// conversation has been quiet (to learn the last seq). The entity adds the relay with these sockets, without the
    /// admission checks, and answers <see cref="Subscribed"/> with <see cref="Subscribed.Subscriber"/> = the relay and
    /// its last published seq; the relay reads what it missed from the log.
    /// </summary>
    public sealed record Resubscribe(ConversationId ConversationId, IActorRef Relay, IActorRef[] Sockets)
        : ISyncMessage, IWithConversationId;

    /// <summary>Read stored events with <c>FromSeq ≤ seq ≤ ToSeq</c>, at most <see cref="Max"/> of them.</summary>
    public sealed record ReadRange(ConversationId ConversationId, long FromSeq, long ToSeq, int Max)
        : ISyncMessage, IWithConversationId;

    /// <summary>Events in seq order starting at the asked FromSeq; empty only when nothing is stored there.</summary>
    public sealed record EventRange(ConversationId ConversationId, EventEnvelope[] Events) : ISyncMessage;

    /// <summary>
    /// The events of one durable write, published to each subscriber as one message (the same array to all), so a
    /// batch of N events costs each subscriber one mailbox hop, not N. A write of one event is published as its
    /// <see cref="EventEnvelope"/> alone.
    /// </summary>
    public sealed record EventsPublished(ConversationId ConversationId, EventEnvelope[] Events) : ISyncMessage;

    /// <summary>Sent to subscribers when the conversation ends their subscription (deleted).</summary>
    public sealed record Ended(ConversationId ConversationId, RefusalReason Reason) : ISyncMessage;
}
