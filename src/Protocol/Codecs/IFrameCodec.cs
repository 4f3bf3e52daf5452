namespace Akka.Sync.Protocol.Codecs;

/// <summary>
/// A dialect's wire format, both ways (as SignalR's <c>IHubProtocol</c> and Phoenix's serializer): what the server
/// sends, encoded to the bytes of one WebSocket text message, and one message a client sent, decoded. Pure: no socket,
/// no session state, no ASP.NET; the session layer decides what to send when.
/// </summary>
public interface IFrameCodec
{
    Dialect Dialect { get; }

    /// <summary>
    /// The message for one stored event. Built once per event and node: every socket of the dialect gets the same
    /// bytes. <paramref name="replay"/> distinguishes the history a client asked for from live events (V0 relabels
    /// some live events).
    /// </summary>
    byte[] EncodeEvent(EventEnvelope e, bool replay);

    /// <summary>The conversation's state snapshot message (V1 <c>full_state</c>); null in a dialect that sends none.</summary>
    byte[]? EncodeState(byte[] fullState);

    /// <summary>An error message for one client, not stored (V1 <c>ConversationErrorEvent</c>, V0 <c>oh_event</c> error).</summary>
    byte[] EncodeError(string code, string detail, DateTime nowUtc);

    /// <summary>One inbound text message.</summary>
    ClientFrame Decode(ReadOnlySpan<byte> message);
}
