using System.Net.WebSockets;
using Akka.Actor;
using Akka.Hosting;
using Akka.Sync.Actors.Conversations;
using Akka.Sync.Gateway.Auth;
using Akka.Sync.Gateway.Sessions;
using Akka.Sync.Gateway.Settings;
using Akka.Sync.Gateway.Transport;
using Akka.Sync.Protocol;

namespace Akka.Sync.Gateway.Endpoints;

/// <summary>
/// <c>/socket.io/?EIO=4&amp;transport=websocket</c> (CONTRACT §5): the route, the Engine.IO handshake query (Engine.IO 4
/// over WebSocket only, refused as HTTP 400 otherwise), the upgrade, and the wiring to a <see cref="SocketIoSession"/>,
/// which does the rest (the key is checked on the Socket.IO CONNECT, as OpenHands does).
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
            var log = loggers.CreateLogger("Akka.Sync.Gateway.SocketIo");
            var session = new SocketIoSession(socket, new SessionServices(settings, keys, limiter, system, region.ActorRef, budget, log), http);
            using var scope = log.BeginScope(new Dictionary<string, object> { ["ConnectionId"] = session.Sid });
            var (code, reason, sent, read) = await session.RunAsync();
            LogClosed(log, session.Sid, session.Conversation, code, reason, sent, read);
        }
        finally
        {
            budget.Release();
        }
    }

    /// <summary>Engine.IO's handshake error: HTTP 400 with its code and message.</summary>
    private static Task Refuse(HttpContext http, int code, string message)
    {
        http.Response.StatusCode = 400;
        return http.Response.WriteAsJsonAsync(new { code, message });
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Socket.IO {Sid} closed on conversation {ConversationId}: {Code} {Reason}; {FramesSent} frames sent, {MessagesRead} read")]
    private static partial void LogClosed(ILogger log, string sid, string conversationId, int code, string reason, long framesSent, long messagesRead);
}
