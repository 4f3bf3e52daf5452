using Akka.Sync.Protocol;
using Akka.Sync.Protocol.V0;
using Akka.Sync.Protocol.V1;
using static Akka.Sync.Gateway.Endpoints.ConversationApi;
using static Akka.Sync.Gateway.Endpoints.Http;
using static Akka.Sync.Protocol.ConversationReplies;

namespace Akka.Sync.Gateway.Endpoints;

/// <summary>
/// <c>POST /api/conversations/{id}/agent/events</c>: an agent runtime appends a batch (CONTRACT §7). The body says its
/// dialect (V1 events have <c>kind</c>, V0 events <c>action</c>/<c>observation</c>); the conversation checks it is its
/// own, stores what is new, and answers each item with its id and seq.
/// </summary>
public static class AgentIngestRoutes
{
    internal static void Map(RouteGroupBuilder api) => api.MapPost("/{conversationId}/agent/events", IngestAgentEvents);

    private static async Task<IResult> IngestAgentEvents(string conversationId, RequestContext c)
    {
        var (id, denied) = await c.Open(conversationId);
        if (denied is not null) return denied;
        var (body, error) = await ReadBodyPooled(c.Http.Request, c.Limits, required: true);
        if (error is not null) return error;
        object command;
        // The body goes back to its pool once parsed: the parsed events hold copies of what they need.
        using (body)
        {
            if (V0Json.LooksLikeV0Batch(body!.Memory.Span))
            {
                if (!V0Json.TryParseBatch(body.Memory, c.Limits.MaxBatchEvents, out var v0Events, out var v0Error, out var v0TooMany))
                    return Error(v0TooMany ? 413 : 400, v0Error);
                command = new ConversationCommands.AppendV0Events(id, v0Events);
            }
            else
            {
                // Each event gets its id here when it has none (the same id the conversation would have given it), so the
                // batch can be sent again while unanswered without being stored twice (Http.AskAppend).
                if (!V1Inbound.TryParseIngestBatch(body.Memory, c.Limits.MaxBatchEvents, assignIds: true, out var events, out var parseError, out var tooMany))
                    return Error(tooMany ? 413 : 400, parseError);
                command = new ConversationCommands.AppendEvents(id, events);
            }
        }
        var (reply, askError) = command is ConversationCommands.AppendEvents append
            ? await AskAppend(c.Region, append, c.Limits)
            : await Ask<AppendResult>(c.Region, command, c.Limits);
        if (askError is not null) return askError;
        if (reply!.Code != ResultCode.Ok) return FromCode(reply.Code, reply.Detail);
        return Results.Bytes(V1Json.Write(w =>
        {
            w.WriteStartObject();
            w.WriteStartArray("items"u8);
            var v0 = command is ConversationCommands.AppendV0Events;
            foreach (var item in reply.Items)
            {
                w.WriteStartObject();
                if (v0) w.WriteNumber("id"u8, item.Seq); else w.WriteString("id"u8, item.Id);
                w.WriteNumber("seq"u8, item.Seq);
                w.WriteEndObject();
            }
            w.WriteEndArray();
            w.WriteEndObject();
        }), "application/json");
    }
}
