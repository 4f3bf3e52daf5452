using System.Net.WebSockets;
using Akka.Actor;
using Akka.Sync.Actors.Connections;
using Akka.Sync.Actors.Observability;
using Akka.Sync.Gateway.Auth;
using Akka.Sync.Protocol;
using Akka.Sync.Protocol.Codecs;
using Akka.Sync.Protocol.V0;

namespace Akka.Sync.Gateway.Sessions;

/// <summary>
/// A V0 socket's session (CONTRACT §5): one Engine.IO connection with its heartbeat, and its Socket.IO session on the
/// default namespace — the OpenHands connect query and key on CONNECT, the replay rules (null events and recall actions
/// skipped, <c>agent_state_changed</c> held back and sent last), the connect ack after the replay, acks for the events
/// that ask for one, and refusals as <c>44</c> before the ack and <c>41</c> after.
/// </summary>
public sealed partial class SocketIoSession(WebSocket socket, SessionServices services, HttpContext http)
    : SocketSession(socket, SocketIoCodec.Instance, services)
{
    private readonly string _engineSid = EngineIo.NewSid();
    private readonly string _socketSid = EngineIo.NewSid();
    private long _lastPongTicks = DateTime.UtcNow.Ticks;
    private bool _connectRequested;
    private volatile bool _connected; // the connect ack went out (written by the connection actor, read here)
    private EventEnvelope? _heldState;

    public string Sid => _engineSid;

    /// <summary>The conversation this session connected to, for the close log line.</summary>
    public string Conversation { get; private set; } = "-";

    protected override async Task RunSessionAsync()
    {
        var limits = Services.Settings.Limits;
        Transport.Enqueue(SocketIoCodec.Open(_engineSid, limits.EngineIoPingInterval, limits.EngineIoPingTimeout, limits.MaxFrameBytes));
        using var stop = new CancellationTokenSource();
        var heartbeat = HeartbeatAsync(stop.Token);
        try
        {
            await ReceiveLoop();
        }
        finally
        {
            await stop.CancelAsync();
            await heartbeat;
        }
    }

    /// <summary>Engine.IO v4: the server pings every interval; a client that misses a pong is closed.</summary>
    private async Task HeartbeatAsync(CancellationToken ct)
    {
        var limits = Services.Settings.Limits;
        using var timer = new PeriodicTimer(limits.EngineIoPingInterval);
        try
        {
            while (await timer.WaitForNextTickAsync(ct))
            {
                var silentFor = DateTime.UtcNow - new DateTime(Interlocked.Read(ref _lastPongTicks), DateTimeKind.Utc);
                if (silentFor > limits.EngineIoPingInterval + limits.EngineIoPingTimeout)
                {
                    Transport.Close(CloseCodes.Normal, "ping timeout");
                    return;
                }
                Transport.Enqueue(SocketIoCodec.Ping);
            }
        }
        catch (OperationCanceledException)
        {
        }
    }

    protected override async ValueTask<bool> OnFrame(ClientFrame frame)
    {
        switch (frame)
        {
            case ClientFrame.Pong:
                Interlocked.Exchange(ref _lastPongTicks, DateTime.UtcNow.Ticks);
                break;
            case ClientFrame.Ping p:
                Transport.Enqueue(p.Probe ? SocketIoCodec.ProbePong : SocketIoCodec.Pong);
                break;
            case ClientFrame.Leave:
                Transport.Close(CloseCodes.Normal, "");
                return false;
            case ClientFrame.Connect c when c.Namespace != SocketIo.DefaultNamespace:
                Transport.Enqueue(SocketIoCodec.InvalidNamespace(c.Namespace));
                break;
            case ClientFrame.Connect when !_connectRequested:
                _connectRequested = true;
                await ConnectAsync();
                break;
            case ClientFrame.UserAction a when Connection is null || !_connected:
                Refuse("not connected: send a Socket.IO CONNECT (40) and wait for its answer first", a.AckId);
                break;
            case ClientFrame.UserAction a:
                // Acknowledged by the connection actor once the action is durable, or with the reason it was not applied.
                Connection.Tell(new ConnectionActor.ClientUserAction(a.Action, a.AckId));
                break;
            case ClientFrame.Bad b:
                Refuse(b.Detail, b.AckId);
                break;
        }
        return true;
    }

    protected override void OnBinary() => WriteError("bad_frame", "binary frames are not supported; send Socket.IO text packets");

    /// <summary>A packet that is not applied: an error frame, and the ack it asked for, carrying the error.</summary>
    private void Refuse(string detail, long? ackId)
    {
        WriteError("bad_frame", detail);
        if (ackId is { } id) Acknowledge(id, detail);
    }

    /// <summary><c>43&lt;id&gt;[]</c> once durable; <c>43&lt;id&gt;[{"error":true,"message":…}]</c> when not applied.</summary>
    public override void Acknowledge(long ackId, string? error) =>
        Transport.Enqueue(SocketIoCodec.Ack(ackId, error is null ? "[]"u8 : SocketIoCodec.ErrorArgument(error)));

    /// <summary>The OpenHands connect handler: query checks and key, then replay and live through a connection actor.</summary>
    private async Task ConnectAsync()
    {
        var query = http.Request.Query;
        var rawId = query["conversation_id"].FirstOrDefault();
        if (string.IsNullOrEmpty(rawId))
        {
            Close(CloseCodes.NotFound, "No conversation_id in query params");
            return;
        }
        if (!ConversationId.TryParse(rawId, out var id))
        {
            Close(CloseCodes.NotFound, "Conversation not found");
            return;
        }
        Conversation = id.Hex;
        var keys = Services.Keys;
        if (!keys.IsOpen && Services.Limiter.IsBlocked(http))
        {
            Close(CloseCodes.AuthenticationFailed, FailedAuthLimiter.Detail);
            return;
        }
        if (!keys.IsOpen)
        {
            var key = query["session_api_key"].FirstOrDefault() is { Length: > 0 } k && k != "null"
                ? k
                : http.Request.Headers[ApiKeys.HeaderName].FirstOrDefault();
            AuthOutcome outcome;
            try
            {
                outcome = await keys.ForConversation(key, id, Services.Settings.Limits.AskTimeout);
            }
            catch (AskTimeoutException)
            {
                outcome = AuthOutcome.Denied;
            }
            if (outcome == AuthOutcome.Denied)
            {
                SyncMetrics.AuthFailures.Add(1, new KeyValuePair<string, object?>("surface", "socketio"));
                Services.Limiter.Failed(http);
                LogAuthRejected(Services.Log, id.Hex);
                Close(CloseCodes.AuthenticationFailed, "invalid_session_api_key");
                return;
            }
        }
        // latest_event_id: an integer; anything else (or absent) is -1, i.e. replay everything.
        var latest = long.TryParse(query["latest_event_id"].FirstOrDefault(), out var n) && n >= 0 ? n : -1;
        LogConnected(Services.Log, _engineSid, id.Hex, latest);
        Connect(id, latest < 0 ? ReplayFrom.All : ReplayFrom.Seq(latest));
    }

    // ---- IClientSink: the V0 replay rules and the connect ack ----

    public override bool TryWriteEvent(EventEnvelope e, bool replay)
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
            return Transport.TryEnqueueBounded(Codec.EncodeEvent(e, replay: true));
        }
        return Transport.TryEnqueueBounded(Codec.EncodeEvent(e, replay: false));
    }

    /// <summary>The held-back state goes last, then the connect ack (as python-socketio does, after the connect handler's replay).</summary>
    public override void ReplayCompleted()
    {
        if (_heldState is { } held) Transport.Enqueue(Codec.EncodeEvent(held, replay: true));
        _heldState = null;
        Transport.Enqueue(SocketIoCodec.ConnectAck(_socketSid));
        _connected = true;
    }

    /// <summary>
    /// Before the connect ack a close is a refusal (<c>44{"message"}</c>, which socket.io-client reports as
    /// <c>connect_error</c>); after it, a slow consumer's transport closes with 1013 (the client reconnects with its
    /// latest_event_id) and anything else is a server disconnect (<c>41</c>).
    /// </summary>
    public override void Close(int code, string reason)
    {
        if (!_connected)
        {
            Transport.Enqueue(SocketIoCodec.ConnectError(reason));
            Transport.Close(CloseCodes.Normal, "");
        }
        else if (code == CloseCodes.TryAgainLater)
        {
            Transport.Close(code, reason);
        }
        else
        {
            Transport.Enqueue(SocketIoCodec.Disconnect);
            Transport.Close(CloseCodes.Normal, reason);
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Socket.IO {Sid} connected to conversation {ConversationId} (latest_event_id {Latest})")]
    private static partial void LogConnected(ILogger log, string sid, string conversationId, long latest);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Socket.IO authentication failed for conversation {ConversationId}")]
    private static partial void LogAuthRejected(ILogger log, string conversationId);
}
