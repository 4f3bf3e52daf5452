namespace Akka.Sync.Protocol;

/// <summary>The WebSocket close codes this server uses (CONTRACT §3).</summary>
public static class CloseCodes
{
    public const int Normal = 1000;
    public const int GoingAway = 1001;
    public const int MessageTooBig = 1009;
    public const int InternalError = 1011;
    /// <summary>The node is stopping (a rolling restart): reconnect at once, to any node, with the last event id.</summary>
    public const int ServiceRestart = 1012;
    public const int TryAgainLater = 1013;
    public const int AuthenticationFailed = 4001;
    public const int NotFound = 4004;
    public const int UnknownAfterEventId = 4009;
}
