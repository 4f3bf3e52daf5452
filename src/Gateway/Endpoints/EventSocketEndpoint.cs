using System.Buffers;
using System.Net.WebSockets;
using Akka.Actor;
using Akka.Hosting;
using Akka.Streams;
using Akka.Sync.Actors.Connections;
using Akka.Sync.Actors.Conversations;
using Akka.Sync.Actors.Hosting;
using Akka.Sync.Actors.Observability;
using Akka.Sync.Gateway.Auth;
using Akka.Sync.Gateway.Settings;
using Akka.Sync.Gateway.Transport;
using Akka.Sync.Protocol;
using Akka.Sync.Protocol.V1;

namespace Akka.Sync.Gateway.Endpoints;

/// <summary>
/// <c>GET /sockets/events/{conversation_id}</c> (CONTRACT §3): authenticate, upgrade, then wire the socket
/// to a <see cref="ConnectionActor"/>: inbound frames are decoded here and handed to the actor; the actor
/// writes to the bounded <see cref="WebSocketTransport"/>.
/// </summary>
public static partial class EventSocketEndpoint
{
    public const string HeaderName = "X-Session-API-Key";
    private static readonly KeyValuePair<string, object?> V1Tag = new("dialect", "v1");

    public static IEndpointRouteBuilder MapEventSocket(this IEndpointRouteBuilder app)
    {
        app.Map("/sockets/events/{conversationId}", Handle).ExcludeFromDescription();
        return app;
    }

    private static async Task Handle(HttpContext http, string conversationId, GatewaySettings settings, ApiKeys keys,
        ActorSystem system, IRequiredActor<ConversationRegion> region, ILoggerFactory loggers, FailedAuthLimiter limiter,
        SocketBudget budget)
    {
        var log = loggers.CreateLogger("Akka.Sync.Gateway.EventSocket");
        if (!http.WebSockets.IsWebSocketRequest)
        {
            await Problem(http, 400, "expected a WebSocket upgrade");
            return;
        }
        if (!TryParseReplay(http.Request.Query, out var from, out var replayError))
        {
            await Problem(http, 400, replayError);
            return;
        }
        if (!keys.IsOpen && limiter.IsBlocked(http))
        {
            http.Response.Headers.RetryAfter = "60";
            await Problem(http, 429, FailedAuthLimiter.Detail);
            return;
        }
        var key = http.Request.Query["session_api_key"].FirstOrDefault() ?? http.Request.Headers[HeaderName].FirstOrDefault();
        var validId = ConversationId.TryParse(conversationId, out var id);
        var authenticated = keys.IsOpen;
        if (!keys.IsOpen && !string.IsNullOrEmpty(key))
        {
            AuthOutcome outcome;
            try
            {
                outcome = validId ? await keys.ForConversation(key, id, settings.Limits.AskTimeout) : keys.ForServer(key);
            }
            catch (AskTimeoutException)
            {
                await Problem(http, 503, "the conversation did not answer in time; try again");
                return;
            }
            if (outcome == AuthOutcome.Denied)
            {
                SyncMetrics.AuthFailures.Add(1, new KeyValuePair<string, object?>("surface", "v1_socket"));
                limiter.Failed(http);
                LogAuthRejected(log, validId ? id.Hex : "(invalid)");
                await Problem(http, 403, "Authentication failed");
                return;
            }
            authenticated = true;
        }

        using var socket = await http.WebSockets.AcceptWebSocketAsync(new WebSocketAcceptContext
        {
            // With a timeout .NET sends real Ping frames (not unsolicited Pongs) and drops a peer that stops answering.
            KeepAliveInterval = settings.Limits.PingInterval,
            KeepAliveTimeout = settings.Limits.PingTimeout,
        });
        var transport = new WebSocketTransport(socket, settings.Limits, "v1");
        transport.Start();
        budget.TrackPump(transport);
        var connectionId = http.TraceIdentifier;
        using var scope = log.BeginScope(new Dictionary<string, object> { ["ConversationId"] = validId ? id.Hex : "-", ["ConnectionId"] = connectionId });
        SyncMetrics.SocketsOpen.Add(1, V1Tag);
        LogOpened(log, connectionId, validId ? id.Hex : conversationId, from.Kind.ToString());
        var receiver = new FrameReader(socket, settings.Limits.MaxFrameBytes);
        IActorRef? connection = null;
        var slot = budget.TryTake();
        try
        {
            if (!slot)
            {
                transport.Close(CloseCodes.TryAgainLater, SocketBudget.FullReason);
            }
            else if (!validId)
            {
                transport.Close(CloseCodes.NotFound, "Conversation not found");
            }
            else if (!authenticated && !await AuthenticateFirstFrame(receiver, transport, keys, id, settings))
            {
                SyncMetrics.AuthFailures.Add(1, new KeyValuePair<string, object?>("surface", "v1_socket"));
                limiter.Failed(http);
                LogAuthRejected(log, id.Hex);
                transport.Close(CloseCodes.AuthenticationFailed, "Authentication failed");
            }
            else
            {
                connection = system.ActorOf(ConnectionActor.Props(region.ActorRef, id, Dialect.V1, from, new V1Sink(transport),
                    settings.Akka.Connection));
            }
            await ReceiveLoop(receiver, transport, connection);
        }
        finally
        {
            if (connection is not null) system.Stop(connection);
            if (slot) budget.Release();
            SyncMetrics.SocketsOpen.Add(-1, V1Tag);
            transport.Shutdown();
            await transport.Completion.ConfigureAwait(false);
            if (socket.State != WebSocketState.Closed) socket.Abort();
            var closed = transport.ClosedWith ?? (socket.CloseStatus is { } s ? ((int)s, socket.CloseStatusDescription ?? "") : (1006, "aborted"));
            LogClosed(log, connectionId, validId ? id.Hex : conversationId, closed.Item1, closed.Item2, transport.FramesSent, receiver.MessagesRead);
        }
    }

    /// <summary>No key on the upgrade: the first frame must be <c>{"type":"auth","session_api_key":…}</c> within the timeout.</summary>
    private static async Task<bool> AuthenticateFirstFrame(FrameReader receiver, WebSocketTransport transport, ApiKeys keys,
        ConversationId id, GatewaySettings settings)
    {
        var read = receiver.ReadAsync();
        if (await Task.WhenAny(read, Task.Delay(settings.Limits.AuthTimeout)) != read) 
        {
            receiver.Pending = read;
            return false;
        }
        var frame = await read;
        if (frame.Kind != FrameKind.Text) { receiver.Pending = Task.FromResult(frame); return false; }
        if (V1Inbound.ParseClientFrame(frame.Payload) is not ClientFrame.Auth auth) return false;
        try
        {
            return await keys.ForConversation(auth.SessionApiKey, id, settings.Limits.AskTimeout) != AuthOutcome.Denied;
        }
        catch (AskTimeoutException)
        {
            return false;
        }
    }

    private static async Task ReceiveLoop(FrameReader receiver, WebSocketTransport transport, IActorRef? connection)
    {
        while (true)
        {
            var frame = await receiver.ReadAsync();
            switch (frame.Kind)
            {
                case FrameKind.Closed:
                    // Echo the client's close code, as RFC 6455 asks.
                    transport.Close(receiver.ClientCloseCode ?? CloseCodes.Normal, "");
                    return;
                case FrameKind.Gone:
                    return;
                case FrameKind.TooBig:
                    transport.Close(CloseCodes.MessageTooBig, "message too big");
                    await receiver.DrainUntilClosed();
                    return;
                case FrameKind.Binary:
                    connection?.Tell(new ConnectionActor.ClientBadFrame("binary frames are not supported; send JSON text"));
                    break;
                case FrameKind.Text when connection is not null:
                    switch (V1Inbound.ParseClientFrame(frame.Payload))
                    {
                        case ClientFrame.Message m: connection.Tell(new ConnectionActor.ClientMessage(m.UserMessage)); break;
                        case ClientFrame.Auth: break; // already authenticated: harmless
                        case ClientFrame.Bad b: connection.Tell(new ConnectionActor.ClientBadFrame(b.Detail)); break;
                    }
                    break;
            }
        }
    }

    /// <summary>Reads the replay query: <c>after_event_id</c>, else <c>resend_mode</c>/<c>after_timestamp</c>, else <c>resend_all</c>.</summary>
    public static bool TryParseReplay(IQueryCollection query, out ReplayFrom from, out string error)
    {
        from = ReplayFrom.LiveOnly;
        error = "";
        if (query["after_event_id"].FirstOrDefault() is { } afterId)
        {
            if (!Guid.TryParse(afterId, out var guid)) { error = "after_event_id must be an event id (UUID)"; return false; }
            from = ReplayFrom.EventId(guid.ToString("D"));
            return true;
        }
        var mode = query["resend_mode"].FirstOrDefault();
        if (mode is not null)
        {
            switch (mode.ToLowerInvariant())
            {
                case "all":
                    from = ReplayFrom.All;
                    return true;
                case "since":
                    if (!WireTime.TryParse(query["after_timestamp"].FirstOrDefault(), out var since))
                    {
                        error = "resend_mode=since needs after_timestamp (ISO 8601)";
                        return false;
                    }
                    from = ReplayFrom.Since(since);
                    return true;
                default:
                    error = "resend_mode must be all or since";
                    return false;
            }
        }
        var resendAll = query["resend_all"].FirstOrDefault();
        if (resendAll is null) return true;
        if (!bool.TryParse(resendAll, out var all)) { error = "resend_all must be true or false"; return false; }
        from = all ? ReplayFrom.All : ReplayFrom.LiveOnly;
        return true;
    }

    private static Task Problem(HttpContext http, int status, string detail)
    {
        http.Response.StatusCode = status;
        return http.Response.WriteAsJsonAsync(new { detail });
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Socket {ConnectionId} opened on conversation {ConversationId} (replay {Replay})")]
    private static partial void LogOpened(ILogger log, string connectionId, string conversationId, string replay);

    [LoggerMessage(Level = LogLevel.Information, Message = "Socket {ConnectionId} closed on conversation {ConversationId}: {Code} {Reason}; {FramesSent} frames sent, {MessagesRead} read")]
    private static partial void LogClosed(ILogger log, string connectionId, string conversationId, int code, string reason, long framesSent, long messagesRead);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Socket authentication failed for conversation {ConversationId}")]
    private static partial void LogAuthRejected(ILogger log, string conversationId);
}

public enum FrameKind { Text, Binary, TooBig, Closed, Gone }

public readonly record struct InboundFrame(FrameKind Kind, byte[] Payload);

/// <summary>Reads whole WebSocket messages up to a size limit.</summary>
/// <remarks>
/// An idle socket always has a read pending, so what that read holds is paid per connection: a 512-byte buffer, and
/// the buffer for a message of several chunks only once a second chunk arrives (it was 4 KiB + 1 KiB per socket;
/// docs/benchmarks.md, "idle sockets").
/// </remarks>
public sealed class FrameReader(WebSocket socket, int maxBytes)
{
    private readonly byte[] _buffer = new byte[512];

    /// <summary>A read begun elsewhere (the auth phase) that the loop must finish first.</summary>
    public Task<InboundFrame>? Pending { get; set; }

    public long MessagesRead { get; private set; }

    /// <summary>The close code the client sent, once it closed.</summary>
    public int? ClientCloseCode { get; private set; }

    public async Task<InboundFrame> ReadAsync()
    {
        if (Pending is { } pending)
        {
            Pending = null;
            return await pending;
        }
        ArrayBufferWriter<byte>? message = null;
        try
        {
            while (true)
            {
                var result = await socket.ReceiveAsync(_buffer, CancellationToken.None);
                if (result.MessageType == WebSocketMessageType.Close)
                {
                    ClientCloseCode = result.CloseStatus is { } code ? (int)code : null;
                    return new InboundFrame(FrameKind.Closed, []);
                }
                if ((message?.WrittenCount ?? 0) + result.Count > maxBytes) return new InboundFrame(FrameKind.TooBig, []);
                var kind = result.MessageType == WebSocketMessageType.Binary ? FrameKind.Binary : FrameKind.Text;
                if (result.EndOfMessage && message is null)
                {
                    MessagesRead++;
                    return new InboundFrame(kind, _buffer.AsSpan(0, result.Count).ToArray());
                }
                message ??= new ArrayBufferWriter<byte>(4096);
                message.Write(_buffer.AsSpan(0, result.Count));
                if (!result.EndOfMessage) continue;
                MessagesRead++;
                return new InboundFrame(kind, message.WrittenSpan.ToArray());
            }
        }
        catch (Exception e) when (e is WebSocketException or OperationCanceledException or ObjectDisposedException)
        {
            return new InboundFrame(FrameKind.Gone, []);
        }
    }

    /// <summary>After the server closed: read (and discard) until the client's close arrives or the socket dies.</summary>
    public async Task DrainUntilClosed()
    {
        try
        {
            while (socket.State is WebSocketState.Open or WebSocketState.CloseSent)
            {
                var result = await socket.ReceiveAsync(_buffer, CancellationToken.None);
                if (result.MessageType == WebSocketMessageType.Close) return;
            }
        }
        catch (Exception e) when (e is WebSocketException or OperationCanceledException or ObjectDisposedException)
        {
        }
    }
}
