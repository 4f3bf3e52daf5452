using Akka.Sync.Protocol.V0;

namespace Akka.Sync.Protocol.Codecs;

/// <summary>
/// One inbound message from a socket client, decoded by its dialect's <see cref="IFrameCodec"/>: what the user asked
/// for, or what the dialect's own session layer handles (Engine.IO heartbeat, Socket.IO namespaces). A bad message is
/// a value with its detail, never an exception.
/// </summary>
public abstract record ClientFrame
{
    /// <summary>V1: a user message (<c>{"role":"user","content":[…]}</c>).</summary>
    public sealed record Message(UserMessage UserMessage) : ClientFrame;

    /// <summary>V1: the first-frame authentication <c>{"type":"auth","session_api_key":…}</c>.</summary>
    public sealed record Auth(string SessionApiKey) : ClientFrame;

    /// <summary>V0: an <c>oh_user_action</c> / <c>oh_action</c> event, with the ack id the client asked for, if any.</summary>
    public sealed record UserAction(V0Incoming Action, long? AckId) : ClientFrame;

    /// <summary>Engine.IO ping from the client (<c>2</c>), or the upgrade probe (<c>2probe</c>).</summary>
    public sealed record Ping(bool Probe) : ClientFrame;

    /// <summary>Engine.IO pong (<c>3</c>): the answer to the server's ping.</summary>
    public sealed record Pong : ClientFrame
    {
        public static readonly Pong Instance = new();
    }

    /// <summary>Socket.IO CONNECT to a namespace (<c>40</c>, <c>40/admin,</c>).</summary>
    public sealed record Connect(string Namespace) : ClientFrame;

    /// <summary>The client ends the session: Engine.IO close (<c>1</c>) or Socket.IO DISCONNECT (<c>41</c>).</summary>
    public sealed record Leave : ClientFrame
    {
        public static readonly Leave Instance = new();
    }

    /// <summary>Valid, and nothing to do (Engine.IO noop/upgrade, a Socket.IO ack from the client).</summary>
    public sealed record Ignored : ClientFrame
    {
        public static readonly Ignored Instance = new();
    }

    /// <summary>Not usable: an error frame for that client (and the ack it asked for, with the error).</summary>
    public sealed record Bad(string Detail, long? AckId = null) : ClientFrame;
}
