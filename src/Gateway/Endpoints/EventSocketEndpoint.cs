using Akka.Actor;
using Akka.Sync.Actors.Observability;
using Akka.Sync.Gateway.Auth;
using Akka.Sync.Gateway.Sessions;
using Akka.Sync.Protocol;

namespace Akka.Sync.Gateway.Endpoints;

/// <summary>
/// <c>GET /sockets/events/{conversation_id}</c> (CONTRACT §3): the route, the key that came with the upgrade (a wrong
/// one is a 403, no socket), the upgrade, and the wiring to a <see cref="V1Session"/>, which does the rest.
/// </summary>
public static partial class EventSocketEndpoint
{
    public const string HeaderName = ApiKeys.HeaderName;

    public static IEndpointRouteBuilder MapEventSocket(this IEndpointRouteBuilder app)
    {
        // The server's parts are resolved once, not bound per request (SocketEndpointParts says why).
        var parts = SocketEndpointParts.For(app, "Akka.Sync.Gateway.EventSocket");
        app.Map("/sockets/events/{conversationId}", (RequestDelegate)(http =>
                Handle(http, http.Request.RouteValues["conversationId"] as string ?? "", parts())))
            .ExcludeFromDescription();
        return app;
    }

    private static async Task Handle(HttpContext http, string conversationId, SocketEndpointParts parts)
    {
        var (settings, keys, limiter, budget, log) = (parts.Settings, parts.Keys, parts.Limiter, parts.Budget, parts.Log);
        if (!http.WebSockets.IsWebSocketRequest)
        {
            await Problem(http, 400, "expected a WebSocket upgrade");
            return;
        }
        if (!V1Session.TryParseReplay(http.Request.Query, out var from, out var replayError))
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
                V1Session.LogAuthRejected(log, validId ? id.Hex : "(invalid)");
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
        // No logging scope of its own: the request's scope (ASP.NET's, held for the socket's life anyway) already names the
        // connection (RequestId, the connection id below) and the path (the conversation), and every line here does too.
        // The connection id (the request's trace id) and the id's text are made only for the two lines at Information:
        // held for the socket's life otherwise (~150 bytes).
        var logged = log.IsEnabled(LogLevel.Information);
        var connectionId = logged ? http.TraceIdentifier : "";
        var conversation = !logged ? "" : validId ? id.Hex : conversationId;
        LogOpened(log, connectionId, conversation, from.Kind.ToString());
        var slot = budget.TryTake();
        try
        {
            var session = new V1Session(socket, parts.Session, http, validId ? id : null, authenticated, from, slot);
            var (code, reason, sent, read) = await session.RunAsync();
            LogClosed(log, connectionId, conversation, code, reason, sent, read);
        }
        finally
        {
            if (slot) budget.Release();
        }
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
}
