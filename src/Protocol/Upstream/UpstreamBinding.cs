namespace Akka.Sync.Protocol;

/// <summary>
/// The OpenHands agent-server conversation a conversation follows (issue 16): the server's base URL (scheme, host,
/// port and any path prefix, as the SDK's remote client takes it), the conversation's id there, and its session key
/// encrypted with this server's Data Protection key ring. A null <see cref="ProtectedKey"/> means the key comes from
/// configuration (<c>Upstream:SessionApiKey</c> for <c>Upstream:Url</c>) or that the upstream needs none.
/// </summary>
public sealed record UpstreamBinding(string Url, string ConversationId, byte[]? ProtectedKey)
{
    /// <summary>The same upstream conversation (a new key for it is a rebinding, not a different upstream).</summary>
    public bool SameTarget(UpstreamBinding other) =>
        string.Equals(Url, other.Url, StringComparison.OrdinalIgnoreCase)
        && string.Equals(ConversationId, other.ConversationId, StringComparison.OrdinalIgnoreCase);

    /// <summary>Never the key, not even encrypted: a binding may end up in a log line.</summary>
    public override string ToString() => $"UpstreamBinding {{ Url = {Url}, ConversationId = {ConversationId} }}";
}

/// <summary>What a conversation's info shows of its binding (never the key), with the link's status where it runs.</summary>
public sealed record UpstreamView(string Url, string ConversationId, UpstreamLinkStatus? Link = null);

/// <summary>
/// The follower's view of its link: <see cref="State"/> is <c>connecting</c>, <c>catching_up</c>, <c>live</c>,
/// <c>backoff</c>, <c>unauthorized</c> (the upstream refused the key), <c>not_found</c> (no such conversation upstream)
/// or <c>key_unavailable</c> (the stored key cannot be decrypted with this node's key ring). <see cref="LagEvents"/>:
/// upstream events received and not yet stored; <see cref="LagSeconds"/>: how long that backlog has been waiting, or,
/// while not live, how long since the link was last live.
/// </summary>
public sealed record UpstreamLinkStatus(
    string State,
    bool Connected,
    long LagEvents,
    double LagSeconds,
    long Reconnects,
    long EventsFollowed,
    string? LastEventId,
    string? LastError);

public static class UpstreamCommands
{
    /// <summary>
    /// Starts a bound conversation's entity (and so its follower) wherever its shard lives now: sent by the
    /// <c>UpstreamKeeper</c> singleton to every bound conversation, so following resumes after a failover or a restart
    /// even when no client asks for the conversation.
    /// </summary>
    public sealed record Wake(ConversationId ConversationId) : ISyncMessage, IWithConversationId;
}
