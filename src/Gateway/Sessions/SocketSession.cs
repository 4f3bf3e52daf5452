using System.Net.WebSockets;
using Akka.Actor;
using Akka.Sync.Actors.Connections;
using Akka.Sync.Actors.Observability;
using Akka.Sync.Gateway.Auth;
using Akka.Sync.Gateway.Settings;
using Akka.Sync.Gateway.Transport;
using Akka.Sync.Protocol;
using Akka.Sync.Protocol.Codecs;

namespace Akka.Sync.Gateway.Sessions;

/// <summary>What a socket session needs from the server, resolved once per socket.</summary>
public sealed record SessionServices(GatewaySettings Settings, ApiKeys Keys, FailedAuthLimiter Limiter, ActorSystem System,
    IActorRef Region, SocketBudget Budget, ILogger Log)
{
    /// <summary>This node's relay registry (<c>Cluster:NodeRelay</c>, on by default); null: sockets subscribe themselves.</summary>
    public IActorRef? Relays => Settings.Akka.Cluster.NodeRelay ? Akka.Hosting.ActorRegistry.For(System).Get<RelayRegistryKey>() : null;

    private Props? _v1Connections, _v0Connections;

    /// <summary>The props of this node's connection actors for a dialect, made once (<see cref="ConnectionActor.SharedProps"/>).</summary>
    public Props ConnectionProps(Dialect dialect) => dialect == Dialect.V1
        ? _v1Connections ??= MakeConnectionProps(dialect)
        : _v0Connections ??= MakeConnectionProps(dialect);

    private Props MakeConnectionProps(Dialect dialect) =>
        ConnectionActor.SharedProps(Region, dialect, Settings.Akka.Connection, Relays).WithMailbox(ConnectionMailbox.ConfigPath);
}

/// <summary>
/// The session layer of one socket, what both dialects share: it owns the socket's transport (the message reader and the
/// bounded send queue), decodes what comes in with its dialect's <see cref="IFrameCodec"/>, and is the
/// <see cref="IClientSink"/> its <see cref="ConnectionActor"/> writes to, encoding with the same codec. A dialect's
/// session adds its handshake, authentication and heartbeat (<see cref="V1Session"/>, <see cref="SocketIoSession"/>).
/// </summary>
public abstract class SocketSession : IClientSink
{
    private readonly WebSocket _socket;
    private readonly KeyValuePair<string, object?> _dialectTag;

    protected SocketSession(WebSocket socket, IFrameCodec codec, SessionServices services)
    {
        _socket = socket;
        Codec = codec;
        Services = services;
        _dialectTag = new KeyValuePair<string, object?>("dialect", codec.Dialect.ToWire());
        Transport = new WebSocketTransport(socket, services.Settings.Limits, codec.Dialect.ToWire());
        Reader = new MessageReader(socket, services.Settings.Limits.MaxFrameBytes);
    }

    protected IFrameCodec Codec { get; }
    protected SessionServices Services { get; }
    protected WebSocketTransport Transport { get; }
    protected MessageReader Reader { get; }

    /// <summary>The socket's connection actor, once the session let it subscribe.</summary>
    protected IActorRef? Connection { get; private set; }

    /// <summary>Runs the session until the socket ends; answers how it closed (code, reason, frames sent and read).</summary>
    public async Task<(int Code, string Reason, long FramesSent, long MessagesRead)> RunAsync()
    {
        Services.Budget.StartPump(Transport);
        SyncMetrics.SocketsOpen.Add(1, _dialectTag);
        try
        {
            await RunSessionAsync();
        }
        finally
        {
            if (Connection is not null) Services.System.Stop(Connection);
            SyncMetrics.SocketsOpen.Add(-1, _dialectTag);
            Transport.Shutdown();
            await Transport.Completion.ConfigureAwait(false);
            if (_socket.State != WebSocketState.Closed) _socket.Abort();
        }
        var (code, reason) = Transport.SendTimedOut ? (1006, "send timeout: the client stopped reading")
            : Transport.ClosedWith ?? (_socket.CloseStatus is { } s ? ((int)s, _socket.CloseStatusDescription ?? "") : (1006, "aborted"));
        return (code, reason, Transport.FramesSent, Reader.MessagesRead);
    }

    /// <summary>The dialect's session: handshake, then <see cref="ReceiveLoop"/>.</summary>
    protected abstract Task RunSessionAsync();

    /// <summary>A decoded text message; false when the session ends.</summary>
    protected abstract ValueTask<bool> OnFrame(ClientFrame frame);

    /// <summary>A binary message: neither dialect carries any.</summary>
    protected abstract void OnBinary();

    /// <summary>Reads until the socket ends: transport outcomes here, decoded messages to the dialect.</summary>
    protected async Task ReceiveLoop()
    {
        while (true)
        {
            var message = await Reader.ReadAsync();
            switch (message.Kind)
            {
                case MessageKind.Closed:
                    // Echo the client's close code, as RFC 6455 asks.
                    Transport.Close(Reader.ClientCloseCode ?? CloseCodes.Normal, "");
                    return;
                case MessageKind.Gone:
                    return;
                case MessageKind.TooBig:
                    Transport.Close(CloseCodes.MessageTooBig, "message too big");
                    await Reader.DrainUntilClosed();
                    return;
                case MessageKind.Binary:
                    OnBinary();
                    break;
                case MessageKind.Text:
                    if (!await OnFrame(Codec.Decode(message.Payload))) return;
                    break;
            }
        }
    }

    /// <summary>Starts the connection actor that subscribes this session to its conversation.</summary>
    protected void Connect(ConversationId id, ReplayFrom from)
    {
        var connection = ((ExtendedActorSystem)Services.System).SystemActorOf(Services.ConnectionProps(Codec.Dialect));
        connection.Tell(new ConnectionActor.Start(id, from, this));
        Connection = connection;
    }

    // ---- IClientSink: what the connection actor writes, encoded by the codec ----

    public virtual void WriteFullState(byte[] fullState)
    {
        if (Codec.EncodeState(fullState) is { } frame) Transport.Enqueue(frame);
    }

    public virtual bool TryWriteEvent(EventEnvelope e, bool replay) => Transport.TryEnqueueBounded(Codec.EncodeEvent(e, replay));

    public virtual void ReplayCompleted() { }

    public void WriteError(string code, string detail) => Transport.Enqueue(Codec.EncodeError(code, detail, DateTime.UtcNow));

    public virtual void Acknowledge(long ackId, string? error) { }

    public bool HasRoomForReplay => Transport.HasRoomForReplay;

    public Task WhenRoomForReplay() => Transport.WhenRoomForReplay();

    public virtual void Close(int code, string reason) => Transport.Close(code, reason);
}
