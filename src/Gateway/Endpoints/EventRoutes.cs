using System.Text;
using System.Text.Json;
using Akka.Sync.Protocol;
using Akka.Sync.Protocol.V1;
using static Akka.Sync.Gateway.Endpoints.ApiFormat;
using static Akka.Sync.Gateway.Endpoints.ConversationApi;
using static Akka.Sync.Gateway.Endpoints.Http;
using static Akka.Sync.Protocol.ConversationReplies;

namespace Akka.Sync.Gateway.Endpoints;

/// <summary>
/// A conversation's events over REST: search, count and get (read from the entity's index, tail and journal), a user
/// message, the answer to a confirmation, and the OpenHands frontend's <c>/api/v1/events/count</c>.
/// </summary>
public static class EventRoutes
{
    internal static void Map(RouteGroupBuilder api, IEndpointRouteBuilder app)
    {
        api.MapGet("/{conversationId}/events/search", SearchEvents);
        api.MapGet("/{conversationId}/events/count", CountEvents);
        api.MapGet("/{conversationId}/events/{eventId}", GetEvent);
        api.MapPost("/{conversationId}/events", SendMessage);
        api.MapPost("/{conversationId}/events/respond_to_confirmation", RespondToConfirmation);
        // The OpenHands frontend's count of one conversation's events.
        app.MapGet("/api/v1/events/count", async (HttpRequest request, RequestContext c) =>
        {
            var raw = request.Query["conversation_id__eq"].FirstOrDefault();
            if (!ConversationId.TryParse(raw, out var id)) return Error(400, "conversation_id__eq must be a conversation id");
            if (await c.Authorize(id) is { } denied) return denied;
            var (reply, error) = await Ask<EventCount>(c.Region, new ConversationQueries.CountEvents(id, ConversationQueries.EventFilter.None), c.Limits);
            if (error is not null) return error;
            // The OpenHands frontend polls this for a conversation that may not exist yet: 0 there.
            return Results.Json(reply!.Code == ResultCode.Ok ? reply.Count : 0);
        });
    }

    private static async Task<IResult> SearchEvents(string conversationId, HttpRequest request, RequestContext c)
    {
        var (id, denied) = await c.Open(conversationId);
        if (denied is not null) return denied;
        var q = request.Query;
        if (!TryLimit(q["limit"].FirstOrDefault(), out var limit, out var limitError)) return limitError!;
        if (!TryFilter(q, out var filter, out var filterError)) return filterError!;
        var descending = (q["sort_order"].FirstOrDefault() ?? "TIMESTAMP").ToUpperInvariant() switch
        {
            "TIMESTAMP" => false,
            "TIMESTAMP_DESC" => true,
            _ => (bool?)null,
        };
        if (descending is null) return Error(400, "sort_order must be TIMESTAMP or TIMESTAMP_DESC");
        var pageId = q["page_id"].FirstOrDefault();
        var (reply, error) = await Ask<EventPage>(c.Region,
            new ConversationQueries.SearchEvents(id, filter, pageId, limit, descending.Value), c.Limits);
        if (error is not null) return error;
        if (reply!.Code == ResultCode.BadRequest) return Error(400, "unknown page_id");
        if (reply.Code != ResultCode.Ok) return FromCode(reply.Code, "Conversation not found");
        // The stored events are already their wire JSON: splice them in as they are.
        using var ms = new MemoryStream();
        ms.Write("{\"items\":["u8);
        for (var i = 0; i < reply.Items.Length; i++)
        {
            if (i > 0) ms.WriteByte((byte)',');
            ms.Write(reply.Items[i]);
        }
        ms.Write("],\"next_page_id\":"u8);
        ms.Write(reply.NextPageId is null ? "null"u8 : Encoding.UTF8.GetBytes(JsonSerializer.Serialize(reply.NextPageId)));
        ms.WriteByte((byte)'}');
        return Results.Bytes(ms.ToArray(), "application/json");
    }

    private static async Task<IResult> CountEvents(string conversationId, HttpRequest request, RequestContext c)
    {
        var (id, denied) = await c.Open(conversationId);
        if (denied is not null) return denied;
        if (!TryFilter(request.Query, out var filter, out var filterError)) return filterError!;
        var (reply, error) = await Ask<EventCount>(c.Region, new ConversationQueries.CountEvents(id, filter), c.Limits);
        if (error is not null) return error;
        return reply!.Code == ResultCode.Ok ? Results.Json(reply.Count) : FromCode(reply.Code, "Conversation not found");
    }

    private static async Task<IResult> GetEvent(string conversationId, string eventId, RequestContext c)
    {
        var (id, denied) = await c.Open(conversationId);
        if (denied is not null) return denied;
        if (!Guid.TryParse(eventId, out var eid)) return Error(400, "event id must be a UUID");
        var (reply, error) = await Ask<EventResult>(c.Region, new ConversationQueries.GetEvent(id, eid.ToString("D")), c.Limits);
        if (error is not null) return error;
        return reply!.Code == ResultCode.Ok ? Results.Bytes(reply.Json!, "application/json") : FromCode(reply.Code, "Event not found");
    }

    private static async Task<IResult> SendMessage(string conversationId, RequestContext c)
    {
        var (id, denied) = await c.Open(conversationId);
        if (denied is not null) return denied;
        var (doc, error) = await ReadJsonObject(c.Http.Request, c.Limits, required: true);
        if (error is not null) return error;
        using (doc)
        {
            if (!V1Inbound.TryParseMessage(doc!.RootElement, defaultRun: false, out var message, out var messageError))
                return Error(400, messageError);
            return await Send(c, new ConversationCommands.SendMessage(id, message));
        }
    }

    private static async Task<IResult> RespondToConfirmation(string conversationId, RequestContext c)
    {
        var (id, denied) = await c.Open(conversationId);
        if (denied is not null) return denied;
        var (doc, error) = await ReadJsonObject(c.Http.Request, c.Limits, required: true);
        if (error is not null) return error;
        using (doc)
        {
            var root = doc!.RootElement;
            if (!root.TryGetProperty("accept", out var accept) || accept.ValueKind is not (JsonValueKind.True or JsonValueKind.False))
                return Error(400, "accept must be a boolean");
            var reason = "";
            if (root.TryGetProperty("reason", out var r) && r.ValueKind != JsonValueKind.Null)
            {
                if (r.ValueKind != JsonValueKind.String) return Error(400, "reason must be a string");
                reason = r.GetString()!;
            }
            return await Send(c, new ConversationCommands.RespondToConfirmation(id, accept.GetBoolean(), reason));
        }
    }
}
