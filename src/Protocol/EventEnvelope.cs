namespace Akka.Sync.Protocol;

/// <summary>
/// One stored event of a conversation's log: what is persisted, what is published to subscribers
/// and what replay delivers. <see cref="Json"/> is the event's wire JSON, serialised once by the
/// conversation actor and shared by every subscriber.
/// </summary>
public sealed record EventEnvelope(
    ConversationId ConversationId,
    long Seq,
    string Id,
    string Kind,
    string Source,
    long TimestampTicks,
    byte[] Json) : ISyncMessage, IWithConversationId
{
    public DateTime Timestamp => new(TimestampTicks, DateTimeKind.Utc);
}

/// <summary>Events sources as OpenHands names them.</summary>
public static class EventSources
{
    public const string Agent = "agent";
    public const string User = "user";
    public const string Environment = "environment";

    public static bool IsValid(string? s) => s is Agent or User or Environment;
}
