using Akka.Sync.Protocol;
using static Akka.Sync.Gateway.Endpoints.Http;
using static Akka.Sync.Protocol.ConversationReplies;

namespace Akka.Sync.Gateway.Endpoints;

/// <summary>
/// The OpenHands agent-server REST routes (CONTRACT §7), by resource: <see cref="ConversationRoutes"/>,
/// <see cref="EventRoutes"/> and <see cref="AgentIngestRoutes"/>. Each validates, asks the conversation entity (or the
/// directory for collection routes) and maps the answer to HTTP; none touches the journal itself.
/// </summary>
public static class ConversationApi
{
    public static IEndpointRouteBuilder MapConversationApi(this IEndpointRouteBuilder app)
    {
        var api = app.MapGroup("/api/conversations");
        ConversationRoutes.Map(api);
        EventRoutes.Map(api, app);
        AgentIngestRoutes.Map(api);
        return app;
    }

    /// <summary>Opens the route's conversation, then sends it a command (<see cref="Send"/>).</summary>
    internal static async Task<IResult> Command(string conversationId, RequestContext c, Func<ConversationId, object> command)
    {
        var (id, denied) = await c.Open(conversationId);
        return denied ?? await Send(c, command(id));
    }

    /// <summary>Asks the conversation a command: <c>{"success": true}</c>, or its refusal as an HTTP error.</summary>
    internal static async Task<IResult> Send(RequestContext c, object command)
    {
        var (reply, error) = await Ask<CommandResult>(c.Region, command, c.Limits);
        if (error is not null) return error;
        return reply!.Code == ResultCode.Ok ? Success : FromCode(reply.Code, reply.Detail);
    }

    /// <summary>A conversation's refusal as the HTTP error agent-server would give.</summary>
    internal static IResult FromCode(ResultCode code, string? detail) => code switch
    {
        ResultCode.NotFound => Error(404, detail ?? "Conversation not found"),
        ResultCode.Conflict => Error(409, detail ?? "conflict"),
        ResultCode.BadRequest => Error(400, detail ?? "bad request"),
        ResultCode.Unavailable => Error(503, "the journal is unavailable; nothing was stored"),
        ResultCode.BadGateway => Error(502, detail ?? "the upstream agent server failed"),
        ResultCode.GatewayTimeout => Error(504, detail ?? "the upstream agent server did not answer in time"),
        _ => Error(500, detail ?? "unexpected result"),
    };
}
