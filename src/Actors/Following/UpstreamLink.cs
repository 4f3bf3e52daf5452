using Akka.Actor;
using Akka.Sync.Actors.Conversations;
using Akka.Sync.Protocol;
using static Akka.Sync.Protocol.ConversationReplies;

namespace Akka.Sync.Actors.Following;

/// <summary>
/// A conversation entity's side of following an upstream agent server: it runs the <see cref="UpstreamFollower"/>
/// child while the conversation is live and bound (restarting it for a new binding), hands it users' actions, and
/// shows its link's status. Owned by one <see cref="ConversationActor"/>; not thread-safe.
/// </summary>
public sealed class UpstreamLink(ConversationId id, UpstreamServices? services, IActorContext context)
{
    private IActorRef? _follower;
    private UpstreamBinding? _binding;
    private LinkStatus? _status;
    private int _incarnation;

    /// <summary>A follower is running: the conversation must not passivate.</summary>
    public bool IsFollowing => _follower is not null;

    /// <summary>Does this conversation's user action go upstream instead of through its own rules?</summary>
    public static bool Forwards(ConversationState decided) => decided.Upstream is not null && decided.IsLive;

    /// <summary>After recovery and after every durable write: follow the binding the durable state has (or stop).</summary>
    public void Update(ConversationState state)
    {
        var wanted = state.IsLive ? state.Upstream : null;
        if (ReferenceEquals(wanted, _binding)) return;
        _binding = wanted;
        if (_follower is not null) context.Stop(_follower);
        _follower = null;
        if (wanted is null || services is null) return;
        _status = new LinkStatus();
        // Resume from the last stored event: all of a bound conversation's log came from the upstream.
        _follower = context.ActorOf(UpstreamFollower.Props(id, wanted, services, _status, state.LastTimestampTicks),
            "upstream-follower-" + ++_incarnation);
    }

    /// <summary>A user's action on a bound conversation: to the upstream, answered by the follower.</summary>
    public void Forward(object command, IActorRef replyTo)
    {
        if (_follower is null)
            replyTo.Tell(new CommandResult(ResultCode.BadGateway, "this node does not follow upstream agent servers"));
        else
            _follower.Tell(new UpstreamFollower.Forward(command, replyTo));
    }

    /// <summary>The conversation's info with its link's live status.</summary>
    public ConversationInfo Describe(ConversationInfo info) =>
        info.Upstream is { } view && _status is { } status && _follower is not null
            ? info with { Upstream = view with { Link = status.Snapshot() } }
            : info;
}
