using Akka.Sync.Protocol;
using static Akka.Sync.Protocol.ConversationCommands;

namespace Akka.Sync.Actors.Conversations;

/// <summary>
/// The rules of a conversation that follows an upstream agent server (issue 16): its log is the upstream's, written by
/// its follower only; users' actions are forwarded upstream by the actor before any rule here sees them.
/// </summary>
public sealed partial record ConversationState
{
    private static readonly Decision.Refuse FollowsUpstream = new(ResultCode.Conflict,
        "this conversation follows an upstream agent server: its events come from there, not through ingest");

    /// <summary>
    /// A repeated create: a fresh key of the caller's own, and, when it names the upstream conversation this one follows,
    /// its (new) session key. Naming another upstream, or binding a conversation that exists unbound, is a conflict.
    /// </summary>
    private Decision DecideRepeatedCreate(Create c)
    {
        var key = new ConversationEvents.KeyIssued(c.KeyHash);
        if (c.Upstream is not { } wanted) return new Decision.Store([key]);
        if (Upstream is null)
            return new Decision.Refuse(ResultCode.Conflict, "the conversation exists and does not follow an upstream agent server");
        if (!Upstream.SameTarget(wanted))
            return new Decision.Refuse(ResultCode.Conflict, "the conversation follows another upstream conversation");
        return new Decision.Store([key, new ConversationEvents.UpstreamBound(wanted)]);
    }

    /// <summary>
    /// Events read from the upstream, in upstream order: those whose id is already in the log (or in flight, or earlier in
    /// the batch) are skipped, so overlapping and repeated replays store each event once; the rest keep their upstream
    /// id, kind, source, fields and (where the order allows) time.
    /// </summary>
    public Decision DecideFollowed(IReadOnlyList<FollowedEvent> events, Func<string, long?> existingSeq)
    {
        if (!IsLive) return Decision.NotFound;
        if (Upstream is null) return new Decision.Refuse(ResultCode.Conflict, "the conversation does not follow an upstream agent server");
        var drafts = new List<Draft>(events.Count);
        var drafted = new HashSet<string>(StringComparer.Ordinal);
        foreach (var e in events)
            if (existingSeq(e.Id) is null && drafted.Add(e.Id))
                drafts.Add(new Draft(e.Kind, e.Source, e.Id, e.Body, AtTicks: e.TimestampTicks));
        return new Decision.Append(drafts);
    }
}
