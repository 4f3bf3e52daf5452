namespace Akka.Sync.Protocol;

/// <summary>
/// What a conversation actor persists besides the log entries themselves (<see cref="EventEnvelope"/>).
/// </summary>
public static class ConversationEvents
{
    public sealed record Created(
        ConversationId ConversationId,
        Dialect Dialect,
        string? Title,
        long CreatedTicks,
        byte[] KeyHash) : ISyncMessage;

    public sealed record TitleChanged(string Title, long AtTicks) : ISyncMessage;

    /// <summary>A further per-conversation key (a repeated create hands out a fresh key).</summary>
    public sealed record KeyIssued(byte[] KeyHash) : ISyncMessage;

    public sealed record Deleted(long AtTicks) : ISyncMessage;

    /// <summary>The conversation follows this upstream agent-server conversation (at creation, or a new key for it).</summary>
    public sealed record UpstreamBound(UpstreamBinding Binding) : ISyncMessage;
}
