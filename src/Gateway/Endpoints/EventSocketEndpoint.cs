using Akka.Actor;
using Akka.Hosting;
using Akka.Sync.Actors.Conversations;
using Akka.Sync.Actors.Observability;
using Akka.Sync.Gateway.Auth;
using Akka.Sync.Gateway.Sessions;
using Akka.Sync.Gateway.Settings;
using Akka.Sync.Gateway.Transport;
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
        var connectionId = http.TraceIdentifier;
        var conversation = validId ? id.Hex : conversationId;
        // A scope held for the socket's life: LoggerMessage's two-value state (~50 bytes), not a dictionary (~600 bytes per socket).
        using var scope = SocketScope(log, validId ? id.Hex : "-", connectionId);
        LogOpened(log, connectionId, conversation, from.Kind.ToString());
        var slot = budget.TryTake();
        try
        {
            var services = new SessionServices(settings, keys, limiter, system, region.ActorRef, budget, log);
            var session = new V1Session(socket, services, http, validId ? id : null, authenticated, from, slot);
            var (code, reason, sent, read) = await session.RunAsync();
            LogClosed(log, connectionId, conversation, code, reason, sent, read);
        }
        finally
        {
            if (slot) budget.Release();
        }
    }

    private static readonly Func<ILogger, string, string, IDisposable?> SocketScope =
        LoggerMessage.DefineScope<string, string>("Conversation {ConversationId} connection {ConnectionId}");

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
