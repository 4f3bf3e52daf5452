using System.Collections.Concurrent;
using Akka.Actor;
using Akka.Sync.Protocol;

namespace Akka.Sync.Actors.Conversations;

/// <summary>
/// This node's live conversation entities, for a request that can go to its entity directly instead of through the
/// shard region and the shard: two mailbox hops, each a thread-pool work item and often a thread wake-up, on every
/// REST request (bench/NOTES.md, "Issue 15, tenth sitting"). Anything not found here takes the region, as before.
/// </summary>
/// <remarks>
/// <para>
/// An entity opens its route once it has recovered and closes it before it can stop: before it asks its shard to
/// passivate it, when its shard tells it to stop (a hand-off), and in <c>PostStop</c>. A message goes through an open
/// route while holding the route's lock, and the entity closes it under the same lock, so every message that went
/// through is already in the entity's mailbox when the route closes:
/// </para>
/// <list type="bullet">
/// <item>on passivation, ahead of the shard's stop message (which the shard sends only once it has the entity's
/// request), and the shard buffers what comes after, as it does without this route;</item>
/// <item>on a hand-off, possibly behind the shard's stop message: the entity then stops only after a message it sends
/// itself once the route is closed, so it serves them first (the region already buffers what comes after).</item>
/// </list>
/// <para>
/// A message that races an entity which stops for a failure is lost as it would be in the shard's own forward; its
/// caller's ask times out (503), and nothing unanswered was stored. One registry per actor system (an Akka extension),
/// so nodes sharing a process for tests do not see each other's entities.
/// </para>
/// </remarks>
public sealed class LocalConversations : IExtension
{
    private readonly ConcurrentDictionary<ConversationId, Route> _open = new();

    public static LocalConversations Get(ActorSystem system) => system.WithExtension<LocalConversations, Provider>();

    /// <summary>
    /// Tells the conversation's entity <paramref name="message"/> if it runs on this node with its route open; false
    /// otherwise (then nothing was sent: the caller goes through the region).
    /// </summary>
    public bool TryTell(ConversationId id, object message, IActorRef sender) =>
        _open.TryGetValue(id, out var route) && route.TryTell(message, sender);

    /// <summary>Whether the conversation's entity has an open route on this node (for tests).</summary>
    public bool IsOpen(ConversationId id) => _open.TryGetValue(id, out var route) && route.IsOpen;

    /// <summary>Opens a route to <paramref name="entity"/> (it replaces a route the conversation had before).</summary>
    internal Route Open(ConversationId id, IActorRef entity)
    {
        var route = new Route(this, id, entity);
        _open[id] = route;
        return route;
    }

    /// <summary>One entity's route. Closed once, for good: the entity's next incarnation opens a new one.</summary>
    internal sealed class Route(LocalConversations owner, ConversationId id, IActorRef entity)
    {
        private bool _closed;

        public bool IsOpen
        {
            get { lock (this) return !_closed; }
        }

        public bool TryTell(object message, IActorRef sender)
        {
            lock (this)
            {
                if (_closed) return false;
                entity.Tell(message, sender); // a local Tell: enqueued in the mailbox before the lock is released
                return true;
            }
        }

        /// <summary>Closes the route: when this returns, every message that went through it is in the entity's mailbox.</summary>
        public void Close()
        {
            lock (this)
            {
                if (_closed) return;
                _closed = true;
            }
            owner._open.TryRemove(new KeyValuePair<ConversationId, Route>(id, this));
        }
    }

    private sealed class Provider : ExtensionIdProvider<LocalConversations>
    {
        public override LocalConversations CreateExtension(ExtendedActorSystem system) => new();
    }
}

/// <summary>
/// The conversation region as callers on this node see it: a message for a conversation whose entity is live here goes
/// to it directly (<see cref="LocalConversations"/>), anything else to the region. An actor reference, so asks work
/// on it as on the region.
/// </summary>
public sealed class ConversationRoute : MinimalActorRef
{
    private readonly IInternalActorRef _region;
    private readonly LocalConversations _local;

    public ConversationRoute(IActorRef region, ActorSystem system)
    {
        _region = (IInternalActorRef)region;
        _local = LocalConversations.Get(system);
    }

    public override ActorPath Path => _region.Path;

    public override IActorRefProvider Provider => _region.Provider;

    protected override void TellInternal(object message, IActorRef sender)
    {
        if (message is IWithConversationId m && _local.TryTell(m.ConversationId, message, sender)) return;
        _region.Tell(message, sender);
    }
}
