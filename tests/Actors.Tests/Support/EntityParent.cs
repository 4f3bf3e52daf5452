using Akka.Actor;
using Akka.Sync.Actors.Conversations;
using Akka.Sync.Protocol;

namespace Akka.Sync.Actors.Tests.Support;

/// <summary>
/// Routes <see cref="IWithConversationId"/> messages to one child <see cref="ConversationActor"/> per id, like a
/// shard region, and honours Passivate. <see cref="StopEntity"/> stops a child as a node loss or a rebalance would;
/// messages for it are held until it is gone, then delivered to a fresh incarnation that recovers from the journal.
/// </summary>
public sealed class EntityParent(ConversationSettings settings, IActorRef directory) : UntypedActor
{
    public sealed record StopEntity(ConversationId Id);
    /// <summary>An entity asked to be passivated; <paramref name="RouteOpen"/>: its local route was still open then.</summary>
    public sealed record Passivated(ConversationId Id, bool RouteOpen = false);
    /// <summary>Asks for the current incarnation of an entity; answered with <see cref="Entity"/>.</summary>
    public sealed record GetEntity(ConversationId Id);
    public sealed record Entity(IActorRef? Ref);

    private readonly Dictionary<string, IActorRef> _children = [];
    private readonly Dictionary<string, List<(object Message, IActorRef Sender)>> _held = [];
    private readonly HashSet<IActorRef> _passivationWatchers = [];

    protected override void OnReceive(object message)
    {
        switch (message)
        {
            case "watch-passivation":
                _passivationWatchers.Add(Sender);
                break;
            case GetEntity g:
                Sender.Tell(new Entity(_children.GetValueOrDefault(g.Id.Hex)));
                break;
            case StopEntity s when _children.TryGetValue(s.Id.Hex, out var child):
                _held.TryAdd(s.Id.Hex, []);
                Context.Stop(child);
                break;
            case Akka.Cluster.Sharding.Passivate p:
                var name = Sender.Path.Name;
                var routeOpen = LocalConversations.Get(Context.System).IsOpen(ConversationId.Parse(name)); // before the stop goes out
                _held.TryAdd(name, []);
                Sender.Tell(p.StopMessage);
                foreach (var w in _passivationWatchers) w.Tell(new Passivated(ConversationId.Parse(name), routeOpen));
                break;
            case Terminated t:
                var id = t.ActorRef.Path.Name;
                _children.Remove(id);
                if (_held.Remove(id, out var held))
                    foreach (var (m, sender) in held) ChildFor(id).Tell(m, sender);
                break;
            case IWithConversationId m:
                var hex = m.ConversationId.Hex;
                if (_held.TryGetValue(hex, out var waiting)) waiting.Add((message, Sender));
                else ChildFor(hex).Forward(message);
                break;
            default:
                Unhandled(message);
                break;
        }
    }

    private IActorRef ChildFor(string hex)
    {
        if (_children.TryGetValue(hex, out var child)) return child;
        child = Context.ActorOf(Props.Create(() => new ConversationActor(ConversationId.Parse(hex), settings, directory)), hex);
        Context.Watch(child);
        _children[hex] = child;
        return child;
    }
}
