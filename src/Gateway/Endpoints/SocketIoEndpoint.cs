using System.Net.WebSockets;
using Akka.Sync.Gateway.Sessions;
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
        // Routing matches "/socket.io" and "/socket.io/" alike. The server's parts are resolved once (SocketEndpointParts).
        var parts = SocketEndpointParts.For(app, "Akka.Sync.Gateway.SocketIo");
        app.Map("/socket.io/", (RequestDelegate)(http => Handle(http, parts())))
            .ExcludeFromDescription();
        return app;
    }

    private static async Task Handle(HttpContext http, SocketEndpointParts parts)
    {
        var budget = parts.Budget;
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
            var log = parts.Log;
            var session = new SocketIoSession(socket, parts.Session, http);
            // LoggerMessage's one-value state, not a dictionary (~600 bytes held per socket).
            using var scope = SidScope(log, session.Sid);
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

    private static readonly Func<ILogger, string, IDisposable?> SidScope = LoggerMessage.DefineScope<string>("ConnectionId {ConnectionId}");

    [LoggerMessage(Level = LogLevel.Information, Message = "Socket.IO {Sid} closed on conversation {ConversationId}: {Code} {Reason}; {FramesSent} frames sent, {MessagesRead} read")]
    private static partial void LogClosed(ILogger log, string sid, string conversationId, int code, string reason, long framesSent, long messagesRead);
}
