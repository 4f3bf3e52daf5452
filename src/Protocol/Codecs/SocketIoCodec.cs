using System.Runtime.CompilerServices;
using System.Text;
using Akka.Sync.Protocol.V0;
using Akka.Sync.Protocol.V1;

namespace Akka.Sync.Protocol.Codecs;

/// <summary>
/// V0 (CONTRACT §5): Socket.IO v5 packets inside Engine.IO v4 messages, one per WebSocket text message; events go out
/// as <c>42["oh_event",{…}]</c> and <c>oh_user_action</c>/<c>oh_action</c> come in. The packets the session layer
/// sends on its own (open, heartbeat, connect answers, acks) are here too, so every byte of the dialect is in one place.
/// </summary>
public sealed class SocketIoCodec : IFrameCodec
{
    public static readonly SocketIoCodec Instance = new();

    public Dialect Dialect => Dialect.V0;

    // ---- events, state, errors ----

    /// <summary>
    /// An event's two messages, built once per event on this node and shared by every V0 socket: all local subscribers
    /// receive the same envelope instance, and the cache is keyed by it (and dies with it).
    /// </summary>
    private sealed class Frames(EventEnvelope e)
    {
        public readonly byte[] Replay = SocketIo.EventFrame("oh_event", e.Json);
        public byte[] Live => _live ??= V0Json.RelabelledLive(e.Kind, e.Source) ? SocketIo.EventFrame("oh_event", V0Json.WithAgentSource(e.Json)) : Replay;
        private byte[]? _live;
    }

    private static readonly ConditionalWeakTable<EventEnvelope, Frames> Cache = new();

    /// <summary>Live events relabel the observations OpenHands relabels (environment run/agent_state_changed/recall, errors).</summary>
    public byte[] EncodeEvent(EventEnvelope e, bool replay)
    {
        var frames = Cache.GetValue(e, static env => new Frames(env));
        return replay ? frames.Replay : frames.Live;
    }

    /// <summary>V0 has no state snapshot message: the agent state travels as <c>agent_state_changed</c> events.</summary>
    public byte[]? EncodeState(byte[] fullState) => null;

    public byte[] EncodeError(string code, string detail, DateTime nowUtc) =>
        SocketIo.EventFrame("oh_event", V1Json.Write(w =>
        {
            w.WriteStartObject();
            w.WriteBoolean("error"u8, true);
            w.WriteString("message"u8, detail);
            w.WriteEndObject();
        }));

    /// <summary>The arguments of an ack that carries a refusal: <c>[{"error":true,"message":…}]</c>.</summary>
    public static byte[] ErrorArgument(string message) => V1Json.Write(w =>
    {
        w.WriteStartArray();
        w.WriteStartObject();
        w.WriteBoolean("error"u8, true);
        w.WriteString("message"u8, message);
        w.WriteEndObject();
        w.WriteEndArray();
    });

    // ---- what the session sends ----

    /// <summary>The Engine.IO open packet: <c>0{"sid","upgrades":[],"pingInterval","pingTimeout","maxPayload"}</c>.</summary>
    public static byte[] Open(string sid, TimeSpan pingInterval, TimeSpan pingTimeout, int maxPayload) =>
        EngineIo.Open(sid, (int)pingInterval.TotalMilliseconds, (int)pingTimeout.TotalMilliseconds, maxPayload);

    public static byte[] Ping => EngineIo.Ping;

    public static byte[] Pong => EngineIo.Pong;

    /// <summary>The answer to the upgrade probe <c>2probe</c>: <c>3probe</c>.</summary>
    public static readonly byte[] ProbePong = EngineIo.PongFor("probe"u8);

    /// <summary>The answer to a namespace CONNECT once the replay is out: <c>40{"sid":…}</c>.</summary>
    public static byte[] ConnectAck(string sid) => SocketIo.ConnectFrame(sid);

    /// <summary>A refused CONNECT: <c>44{"message":…}</c> (socket.io-client reports it as <c>connect_error</c>).</summary>
    public static byte[] ConnectError(string message) => SocketIo.ConnectErrorFrame(message);

    /// <summary>A CONNECT to a namespace this server does not serve.</summary>
    public static byte[] InvalidNamespace(string ns) =>
        EngineIo.Message(Encoding.UTF8.GetBytes($"4{ns},{{\"message\":\"Invalid namespace\"}}"));

    public static byte[] Disconnect => SocketIo.DisconnectFrame;

    /// <summary>An ack for a client event that asked for one: <c>43&lt;id&gt;[args]</c>.</summary>
    public static byte[] Ack(long ackId, ReadOnlySpan<byte> argumentsArrayJson) => SocketIo.AckFrame(ackId, argumentsArrayJson);

    // ---- what clients send ----

    public ClientFrame Decode(ReadOnlySpan<byte> message)
    {
        if (!EngineIo.TryDecode(message, out var type, out var data, out var error)) return new ClientFrame.Bad(error);
        return type switch
        {
            EnginePacketType.Ping => new ClientFrame.Ping(data.SequenceEqual("probe"u8)),
            EnginePacketType.Pong => ClientFrame.Pong.Instance,
            EnginePacketType.Close => ClientFrame.Leave.Instance,
            EnginePacketType.Message => DecodeSocketIo(data),
            EnginePacketType.Open => new ClientFrame.Bad("a client does not send an Engine.IO open packet"),
            _ => ClientFrame.Ignored.Instance, // noop, upgrade: nothing to do on a websocket-only connection
        };
    }

    private static ClientFrame DecodeSocketIo(ReadOnlySpan<byte> data)
    {
        if (!SocketIo.TryDecode(data, out var packet, out var error)) return new ClientFrame.Bad(error);
        switch (packet.Type)
        {
            case SocketPacketType.Connect:
                return new ClientFrame.Connect(packet.Namespace);
            case SocketPacketType.Disconnect:
                return ClientFrame.Leave.Instance;
            case SocketPacketType.Event:
                if (packet.EventName is not ("oh_user_action" or "oh_action"))
                    return new ClientFrame.Bad($"unknown event '{packet.EventName}'; this server accepts oh_user_action and oh_action", packet.AckId);
                if (packet.FirstArgument is not { } arg)
                    return new ClientFrame.Bad($"{packet.EventName} needs an action object", packet.AckId);
                return V0Json.TryParse(arg, EventSources.User, out var action, out var actionError)
                    ? new ClientFrame.UserAction(action, packet.AckId)
                    : new ClientFrame.Bad(actionError, packet.AckId);
            default:
                return ClientFrame.Ignored.Instance;
        }
    }
}
