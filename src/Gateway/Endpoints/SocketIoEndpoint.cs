using System.Net.WebSockets;
using System.Text.Json;
using Akka.Actor;
using Akka.Hosting;
using Akka.Streams;
using Akka.Sync.Actors.Connections;
using Akka.Sync.Actors.Conversations;
using Akka.Sync.Actors.Observability;
using Akka.Sync.Gateway.Auth;
using Akka.Sync.Gateway.Settings;
using Akka.Sync.Gateway.Transport;
using Akka.Sync.Protocol;
using Akka.Sync.Protocol.V0;

namespace Akka.Sync.Gateway.Endpoints;

/// <summary>
/// <c>/socket.io/?EIO=4&amp;transport=websocket</c> (CONTRACT §5): Engine.IO v4 over WebSocket only, one Socket.IO
/// namespace (<c>/</c>), the OpenHands V0 connect query, <c>oh_event</c> out and <c>oh_user_action</c> in.
/// Framing is <see cref="EngineIo"/>/<see cref="SocketIo"/>; the session below wires it to a <see cref="ConnectionActor"/>.
/// </summary>
public static partial class SocketIoEndpoint
{
    public static IEndpointRouteBuilder MapSocketIo(this IEndpointRouteBuilder app)
    {
        // Routing matches "/socket.io" and "/socket.io/" alike.
        app.Map("/socket.io/", Handle).ExcludeFromDescription();
        return app;
    }

    private static async Task Handle(HttpContext http, GatewaySettings settings, ApiKeys keys, ActorSystem system,
        IRequiredActor<ConversationRegion> region, ILoggerFactory loggers, FailedAuthLimiter limiter, SocketBudget budget)
    {
        var query = http.Request.Query;
        if (query["EIO"].FirstOrDefault() != "4")
        {
            await Refuse(http, 5, "Unsupported protocol version: this server speaks Engine.IO 4 (EIO=4)");
            return;
        }
        if (query["transport"].FirstOrDefault() != "websocket")
        {
            await Refuse(http, 0, "Transport unknown: only transport=websocket is served (no HTTP long-polling)");
            return;
        }
        if (!http.WebSockets.IsWebSocketRequest)
        {
            await Refuse(http, 3, "Bad request: expected a WebSocket upgrade");
            return;
        }
        using var socket = await http.WebSockets.AcceptWebSocketAsync();
        if (!budget.TryTake())
        {
            await socket.CloseOutputAsync((WebSocketCloseStatus)CloseCodes.TryAgainLater, SocketBudget.FullReason, CancellationToken.None);
            return;
        }
        try
        {
            var session = new Session(http, socket, settings, keys, limiter, system, region.ActorRef, budget, loggers.CreateLogger("Akka.Sync.Gateway.SocketIo"));
            await session.RunAsync();
        }
        finally
        {
            budget.Release();
        }
    }

    private static Task Refuse(HttpContext http, int code, string message)
    {
        http.Response.StatusCode = 400;
        return http.Response.WriteAsJsonAsync(new { code, message });
    }

    /// <summary>One Engine.IO connection and its Socket.IO session on the default namespace.</summary>
    private sealed partial class Session(HttpContext http, WebSocket socket, GatewaySettings settings, ApiKeys keys,
        FailedAuthLimiter limiter, ActorSystem system, IActorRef region, SocketBudget budget, ILogger log)
    {
        private readonly WebSocketTransport _transport = new(socket, settings.Limits, "v0");
        private static readonly KeyValuePair<string, object?> V0Tag = new("dialect", "v0");
        private readonly string _engineSid = EngineIo.NewSid();
        private V0Sink? _sink;
        private IActorRef? _connection;
        private long _lastPongTicks = DateTime.UtcNow.Ticks;
        private string _conversation = "-";

        private int PingIntervalMs => (int)settings.Limits.EngineIoPingInterval.TotalMilliseconds;
        private int PingTimeoutMs => (int)settings.Limits.EngineIoPingTimeout.TotalMilliseconds;

        public async Task RunAsync()
        {
            _transport.Start();
            budget.TrackPump(_transport);
            using var scope = log.BeginScope(new Dictionary<string, object> { ["ConnectionId"] = _engineSid });
            SyncMetrics.SocketsOpen.Add(1, V0Tag);
            _transport.Enqueue(EngineIo.Open(_engineSid, PingIntervalMs, PingTimeoutMs, settings.Limits.MaxFrameBytes));
            using var stop = new CancellationTokenSource();
            var heartbeat = HeartbeatAsync(stop.Token);
            var reader = new FrameReader(socket, settings.Limits.MaxFrameBytes);
            try
            {
                await ReceiveLoop(reader);
            }
            finally
            {
                await stop.CancelAsync();
                await heartbeat;
                if (_connection is not null) system.Stop(_connection);
                SyncMetrics.SocketsOpen.Add(-1, V0Tag);
                _transport.Shutdown();
                await _transport.Completion.ConfigureAwait(false);
                if (socket.State != WebSocketState.Closed) socket.Abort();
                var closed = _transport.ClosedWith ?? (socket.CloseStatus is { } s ? ((int)s, socket.CloseStatusDescription ?? "") : (1006, "aborted"));
                LogClosed(log, _engineSid, _conversation, closed.Item1, closed.Item2, _transport.FramesSent, reader.MessagesRead);
            }
        }

        /// <summary>Engine.IO v4: the server pings every interval; a client that misses a pong is closed.</summary>
        private async Task HeartbeatAsync(CancellationToken ct)
        {
            using var timer = new PeriodicTimer(settings.Limits.EngineIoPingInterval);
            try
            {
                while (await timer.WaitForNextTickAsync(ct))
                {
                    var silentFor = DateTime.UtcNow - new DateTime(Interlocked.Read(ref _lastPongTicks), DateTimeKind.Utc);
                    if (silentFor > settings.Limits.EngineIoPingInterval + settings.Limits.EngineIoPingTimeout)
                    {
                        _transport.Close(CloseCodes.Normal, "ping timeout");
                        return;
                    }
                    _transport.Enqueue(EngineIo.Ping);
                }
            }
            catch (OperationCanceledException)
            {
            }
        }

        private async Task ReceiveLoop(FrameReader reader)
        {
            while (true)
            {
                var frame = await reader.ReadAsync();
                switch (frame.Kind)
                {
                    case FrameKind.Closed:
                        _transport.Close(reader.ClientCloseCode ?? CloseCodes.Normal, "");
                        return;
                    case FrameKind.Gone:
                        return;
                    case FrameKind.TooBig:
                        _transport.Close(CloseCodes.MessageTooBig, "message too big");
                        await reader.DrainUntilClosed();
                        return;
                    case FrameKind.Binary:
                        Error("binary frames are not supported; send Socket.IO text packets");
                        break;
                    case FrameKind.Text:
                        if (!await OnEnginePacket(frame.Payload)) return;
                        break;
                }
            }
        }

        /// <summary>Handles one Engine.IO packet; false when the session ends.</summary>
        private async Task<bool> OnEnginePacket(byte[] payload)
        {
            if (!EngineIo.TryDecode(payload, out var type, out var data, out var error))
            {
                Error(error);
                return true;
            }
            switch (type)
            {
                case EnginePacketType.Pong:
                    Interlocked.Exchange(ref _lastPongTicks, DateTime.UtcNow.Ticks);
                    return true;
                case EnginePacketType.Ping:
                    _transport.Enqueue(EngineIo.PongFor(data));
                    return true;
                case EnginePacketType.Close:
                    _transport.Close(CloseCodes.Normal, "");
                    return false;
                case EnginePacketType.Message:
                    return await OnSocketPacket(data.ToArray());
                default:
                    return true; // noop, upgrade: nothing to do on a websocket-only connection
            }
        }

        private async Task<bool> OnSocketPacket(byte[] data)
        {
            if (!SocketIo.TryDecode(data, out var packet, out var error))
            {
                Error(error);
                return true;
            }
            switch (packet.Type)
            {
                case SocketPacketType.Connect when packet.Namespace != SocketIo.DefaultNamespace:
                    _transport.Enqueue(EngineIo.Message(System.Text.Encoding.UTF8.GetBytes(
                        $"4{packet.Namespace},{{\"message\":\"Invalid namespace\"}}")));
                    return true;
                case SocketPacketType.Connect when _sink is null:
                    await ConnectAsync();
                    return true;
                case SocketPacketType.Disconnect:
                    _transport.Close(CloseCodes.Normal, "");
                    return false;
                case SocketPacketType.Event:
                    OnEvent(packet);
                    return true;
                default:
                    return true;
            }
        }

        /// <summary>The OpenHands connect handler: query checks, then replay and live through a connection actor.</summary>
        private async Task ConnectAsync()
        {
            var query = http.Request.Query;
            var sink = _sink = new V0Sink(_transport, EngineIo.NewSid());
            var rawId = query["conversation_id"].FirstOrDefault();
            if (string.IsNullOrEmpty(rawId))
            {
                sink.Close(CloseCodes.NotFound, "No conversation_id in query params");
                return;
            }
            if (!ConversationId.TryParse(rawId, out var id))
            {
                sink.Close(CloseCodes.NotFound, "Conversation not found");
                return;
            }
            _conversation = id.Hex;
            if (!keys.IsOpen && limiter.IsBlocked(http))
            {
                sink.Close(CloseCodes.AuthenticationFailed, FailedAuthLimiter.Detail);
                return;
            }
            if (!keys.IsOpen)
            {
                var key = query["session_api_key"].FirstOrDefault() is { Length: > 0 } k && k != "null"
                    ? k
                    : http.Request.Headers[EventSocketEndpoint.HeaderName].FirstOrDefault();
                AuthOutcome outcome;
                try
                {
                    outcome = await keys.ForConversation(key, id, settings.Limits.AskTimeout);
                }
                catch (AskTimeoutException)
                {
                    outcome = AuthOutcome.Denied;
                }
                if (outcome == AuthOutcome.Denied)
                {
                    SyncMetrics.AuthFailures.Add(1, new KeyValuePair<string, object?>("surface", "socketio"));
                    limiter.Failed(http);
                    LogAuthRejected(log, id.Hex);
                    sink.Close(CloseCodes.AuthenticationFailed, "invalid_session_api_key");
                    return;
                }
            }
            // latest_event_id: an integer; anything else (or absent) is -1, i.e. replay everything.
            var latest = long.TryParse(query["latest_event_id"].FirstOrDefault(), out var n) && n >= 0 ? n : -1;
            var from = latest < 0 ? ReplayFrom.All : ReplayFrom.Seq(latest);
            LogOpened(log, _engineSid, id.Hex, latest);
            _connection = system.ActorOf(ConnectionActor.Props(region, id, Dialect.V0, from, sink, settings.Akka.Connection));
        }

        private void OnEvent(SocketPacket packet)
        {
            if (_connection is null || _sink is not { Connected: true })
            {
                Error("not connected: send a Socket.IO CONNECT (40) and wait for its answer first");
                return;
            }
            switch (packet.EventName)
            {
                case "oh_user_action" or "oh_action":
                    if (packet.FirstArgument is not { } arg)
                    {
                        Error($"{packet.EventName} needs an action object");
                        break;
                    }
                    if (!V0Json.TryParse(arg, EventSources.User, out var action, out var error))
                    {
                        Error(error);
                        break;
                    }
                    _connection.Tell(new ConnectionActor.ClientUserAction(action));
                    break;
                default:
                    Error($"unknown event '{packet.EventName}'; this server accepts oh_user_action and oh_action");
                    break;
            }
            if (packet.AckId is { } ackId) _transport.Enqueue(SocketIo.AckFrame(ackId, "[]"u8));
        }

        private void Error(string message)
        {
            if (_sink is { Connected: true } sink) sink.WriteError("bad_frame", message);
            else (_sink ?? new V0Sink(_transport, "")).WriteError("bad_frame", message);
        }

        [LoggerMessage(Level = LogLevel.Information, Message = "Socket.IO {Sid} connected to conversation {ConversationId} (latest_event_id {Latest})")]
        private static partial void LogOpened(ILogger log, string sid, string conversationId, long latest);

        [LoggerMessage(Level = LogLevel.Information, Message = "Socket.IO {Sid} closed on conversation {ConversationId}: {Code} {Reason}; {FramesSent} frames sent, {MessagesRead} read")]
        private static partial void LogClosed(ILogger log, string sid, string conversationId, int code, string reason, long framesSent, long messagesRead);

        [LoggerMessage(Level = LogLevel.Warning, Message = "Socket.IO authentication failed for conversation {ConversationId}")]
        private static partial void LogAuthRejected(ILogger log, string conversationId);
    }
}
