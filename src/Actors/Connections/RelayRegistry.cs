using Akka.Actor;
using Akka.Hosting;
using Akka.Sync.Actors.Conversations;
using Akka.Sync.Protocol;
using static Akka.Sync.Protocol.ConversationSubscription;

namespace Akka.Sync.Actors.Connections;

/// <summary>
/// One per node (<c>/user/relays</c>): routes each socket's <see cref="Subscribe"/> to this node's
/// <see cref="ConversationRelay"/> for the conversation, starting one when there is none, and retires a relay whose last
/// socket left. A relay that fails is stopped, not restarted: its sockets see it terminate and resubscribe from the last
/// seq each delivered, through a fresh relay.
/// </summary>
public sealed class RelayRegistry : ReceiveActor
{
    /// <summary>Asks how many relays run on this node; answered with <see cref="Stats"/>.</summary>
    public sealed record GetStats
    {
        public static readonly GetStats Instance = new();
    }

    public sealed record Stats(int Relays);

    private readonly Dictionary<ConversationId, IActorRef> _relays = [];
    private readonly Dictionary<IActorRef, ConversationId> _running = [];
    private readonly Dictionary<ConversationId, List<IActorRef>> _incarnations = []; // running relays per conversation (the current one, and retired ones still serving)
    private readonly IActorRef _region;
    private readonly ConnectionSettings _settings;
    private long _started;

    public static Props Props(IActorRef region, ConnectionSettings settings) =>
        Akka.Actor.Props.Create(() => new RelayRegistry(region, settings));

    public RelayRegistry(IActorRef region, ConnectionSettings settings)
    {
        _region = region;
        _settings = settings;
        Receive<Subscribe>(s => RelayFor(s.ConversationId).Forward(s));
        // A socket that stops before its subscription was answered does not know its relay: every running incarnation
        // for the conversation is told (a retired one may still hold it as pending); the others ignore it.
        Receive<Unsubscribe>(u =>
        {
            if (_incarnations.TryGetValue(u.ConversationId, out var relays))
                foreach (var relay in relays) relay.Forward(u);
        });
        Receive<ConversationRelay.Idle>(i =>
        {
            // Subscriptions routed here before this point reach the relay before Retire does, and it serves them.
            if (!_relays.TryGetValue(i.ConversationId, out var relay) || !relay.Equals(Sender)) return;
            _relays.Remove(i.ConversationId);
            relay.Tell(ConversationRelay.Retire.Instance);
        });
        Receive<Terminated>(t =>
        {
            if (!_running.Remove(t.ActorRef, out var id)) return;
            if (_relays.TryGetValue(id, out var relay) && relay.Equals(t.ActorRef)) _relays.Remove(id);
            if (_incarnations.TryGetValue(id, out var relays) && relays.Remove(t.ActorRef) && relays.Count == 0) _incarnations.Remove(id);
        });
        Receive<GetStats>(_ => Sender.Tell(new Stats(_running.Count)));
    }

    protected override SupervisorStrategy SupervisorStrategy() => new OneForOneStrategy(_ => Directive.Stop);

    private IActorRef RelayFor(ConversationId id)
    {
        if (_relays.TryGetValue(id, out var relay)) return relay;
        // A retired relay may still be serving its last sockets under the old name: each incarnation has its own.
        relay = Context.ActorOf(ConversationRelay.Props(_region, id, _settings), $"{id.Hex}-{++_started}");
        Context.Watch(relay);
        _relays[id] = relay;
        _running[relay] = id;
        if (!_incarnations.TryGetValue(id, out var incarnations)) _incarnations[id] = incarnations = new List<IActorRef>(1);
        incarnations.Add(relay);
        return relay;
    }
}

/// <summary>Registry key of this node's <see cref="RelayRegistry"/>.</summary>
public sealed class RelayRegistryKey;

public static class RelayHosting
{
    /// <summary>This node's relay registry, at <c>/user/relays</c>, next to the conversation region it subscribes through.</summary>
    public static AkkaConfigurationBuilder AddConversationRelays(this AkkaConfigurationBuilder builder, ConnectionSettings settings) =>
        builder.WithActors((system, registry) =>
            registry.Register<RelayRegistryKey>(system.ActorOf(RelayRegistry.Props(registry.Get<ConversationRegion>(), settings), "relays")));
}
