using Akka.Sync.Actors.Connections;
using Akka.Sync.Protocol;
using Akka.Sync.Protocol.V0;
using Akka.Sync.Protocol.V1;

namespace Akka.Sync.Gateway.Transport;

/// <summary>
/// V0 framing (CONTRACT §5): events go out as <c>42["oh_event",{…}]</c>. Replay skips null events and recall
/// actions and holds back <c>agent_state_changed</c> observations, sending only the last one, last; then the
/// Socket.IO connect ack <c>40{"sid"}</c> (as python-socketio does, after the connect handler's replay). Live events
/// relabel the observations OpenHands relabels. Refusals before the ack are <c>44{"message"}</c>.
/// </summary>
public sealed class V0Sink(WebSocketTransport transport, string sid) : IClientSink
{
    private EventEnvelope? _heldState;
    private volatile bool _connected;

    public bool Connected => _connected;

    public void WriteFullState(byte[] fullState) { }

    public bool TryWriteEvent(EventEnvelope e, bool replay)
    {
        // Only the replay before the connect ack follows the replay rules; a later repair of a gap (after the entity
        // moved) fills in events the client would have had live, so they go out as live ones.
        if (replay && !_connected)
        {
            if (V0Json.SkippedInReplay(e.Kind)) return true;
            if (V0Json.HeldBackInReplay(e.Kind))
            {
                _heldState = e;
                return true;
            }
            return transport.TryEnqueueBounded(FramesOf(e).Replay);
        }
        return transport.TryEnqueueBounded(FramesOf(e).Live);
    }

    /// <summary>
    /// An event's two frames, built once per event on this node and shared by every V0 socket (all local subscribers
    /// receive the same envelope instance), so fan-out does no per-socket framing.
    /// </summary>
    internal sealed class Frames
    {
        public Frames(EventEnvelope e)
        {
            Replay = SocketIo.EventFrame("oh_event", e.Json);
            Live = V0Json.RelabelledLive(e.Kind, e.Source) ? SocketIo.EventFrame("oh_event", V0Json.WithAgentSource(e.Json)) : Replay;
        }

        public byte[] Replay { get; }
        public byte[] Live { get; }
    }

    private static readonly System.Runtime.CompilerServices.ConditionalWeakTable<EventEnvelope, Frames> FrameCache = new();

    internal static Frames FramesOf(EventEnvelope e) => FrameCache.GetValue(e, static env => new Frames(env));

    public void ReplayCompleted()
    {
        if (_heldState is { } held) transport.Enqueue(FramesOf(held).Replay);
        _heldState = null;
        transport.Enqueue(SocketIo.ConnectFrame(sid));
        _connected = true;
    }

    public void WriteError(string code, string detail) =>
        transport.Enqueue(SocketIo.EventFrame("oh_event", V1Json.Write(w =>
        {
            w.WriteStartObject();
            w.WriteBoolean("error"u8, true);
            w.WriteString("message"u8, detail);
            w.WriteEndObject();
        })));

    public bool HasRoomForReplay => transport.HasRoomForReplay;

    public Task WhenRoomForReplay() => transport.WhenRoomForReplay();

    /// <summary>
    /// Before the connect ack a close is a refusal (<c>44{"message"}</c>, which socket.io-client reports as
    /// <c>connect_error</c>); after it, a slow consumer's transport closes with 1013 (the client reconnects with its
    /// latest_event_id) and anything else is a server disconnect (<c>41</c>).
    /// </summary>
    public void Close(int code, string reason)
    {
        if (!_connected)
        {
            transport.Enqueue(SocketIo.ConnectErrorFrame(reason));
            transport.Close(CloseCodes.Normal, "");
        }
        else if (code == CloseCodes.TryAgainLater)
        {
            transport.Close(code, reason);
        }
        else
        {
            transport.Enqueue(SocketIo.DisconnectFrame);
            transport.Close(CloseCodes.Normal, reason);
        }
    }
}
