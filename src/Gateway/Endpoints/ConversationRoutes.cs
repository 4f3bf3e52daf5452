using System.Text.Json;
using Akka.Actor;
using Akka.Sync.Gateway.Auth;
using Akka.Sync.Protocol;
using Akka.Sync.Protocol.V1;
using static Akka.Sync.Gateway.Endpoints.ApiFormat;
using static Akka.Sync.Gateway.Endpoints.ConversationApi;
using static Akka.Sync.Gateway.Endpoints.Http;
using static Akka.Sync.Protocol.ConversationReplies;

namespace Akka.Sync.Gateway.Endpoints;

/// <summary>
/// The conversations themselves over REST: create, get (one or a batch), search and count (the directory), delete,
/// retitle, and run, pause or interrupt the agent.
/// </summary>
public static class ConversationRoutes
{
    private const int MaxTitleLength = 500;

    /// <summary>agent-server's batch get refuses 100 ids or more.</summary>
    private const int MaxBatchIds = 100;

    internal static void Map(RouteGroupBuilder api)
    {
        api.MapPost("", Create);
        api.MapGet("", BatchGet);
        api.MapGet("/search", Search);
        api.MapGet("/count", Count);
        api.MapGet("/{conversationId}", Get);
        api.MapDelete("/{conversationId}", Delete);
        api.MapPatch("/{conversationId}", Patch);
        api.MapPost("/{conversationId}/run", (string conversationId, RequestContext c) =>
            Command(conversationId, c, id => new ConversationCommands.Run(id)));
        api.MapPost("/{conversationId}/pause", (string conversationId, RequestContext c) =>
            Command(conversationId, c, id => new ConversationCommands.Pause(id)));
        api.MapPost("/{conversationId}/interrupt", Interrupt);
    }

    private static async Task<IResult> Create(RequestContext c)
    {
        if (c.AuthorizeServer() is { } denied) return denied;
        var (doc, error) = await ReadJsonObject(c.Http.Request, c.Limits, required: false);
        if (error is not null) return error;
        using (doc)
        {
            var root = doc!.RootElement;
            ConversationId? requested = null;
            if (root.TryGetProperty("conversation_id", out var cid) && cid.ValueKind != JsonValueKind.Null)
            {
                if (cid.ValueKind != JsonValueKind.String || !ConversationId.TryParse(cid.GetString(), out var given))
                    return Error(400, "conversation_id must be a UUID (dashed or 32 hex digits)");
                requested = given;
            }
            string? title = null;
            if (root.TryGetProperty("title", out var t) && t.ValueKind != JsonValueKind.Null)
            {
                if (t.ValueKind != JsonValueKind.String || t.GetString()!.Length > MaxTitleLength)
                    return Error(400, $"title must be a string of at most {MaxTitleLength} characters");
                title = t.GetString();
            }
            var dialect = Dialect.V1;
            if (root.TryGetProperty("protocol", out var p) && p.ValueKind != JsonValueKind.Null)
            {
                if (p.ValueKind != JsonValueKind.String || !DialectNames.TryParse(p.GetString(), out dialect))
                    return Error(400, "protocol must be v1 or v0");
            }
            UserMessage? initial = null;
            if (root.TryGetProperty("initial_message", out var im) && im.ValueKind != JsonValueKind.Null)
            {
                if (!V1Inbound.TryParseMessage(im, defaultRun: false, out var message, out var messageError))
                    return Error(400, $"initial_message: {messageError}");
                initial = message;
            }
            // agent-server titles a conversation from its first message unless told not to (autotitle, default
            // true); it asks an LLM, this server takes the message's first line.
            if (title is null && initial is not null
                && !(root.TryGetProperty("autotitle", out var autotitle) && autotitle.ValueKind == JsonValueKind.False))
                title = TitleFrom(initial.ContentJson);
            // Following an upstream agent server: the initial message (if any) went there with the start request.
            var (bound, bindError) = await Upstream.UpstreamBinder.BindAsync(c, root, requested, dialect);
            if (bindError is not null) return bindError;
            if (bound is not null) (initial, title) = (null, title ?? bound.Title);
            var id = bound?.Id ?? requested ?? ConversationId.New();
            var key = ApiKeys.NewKey();
            var (reply, askError) = await Ask<CreateResult>(c.Region,
                new ConversationCommands.Create(id, dialect, title, initial, ApiKeys.Hash(key), bound?.Binding), c.Limits);
            if (askError is not null) return askError;
            return reply!.Code switch
            {
                ResultCode.Created or ResultCode.Ok => Info(reply.Info!, reply.Code == ResultCode.Created ? 201 : 200, key),
                _ => FromCode(reply.Code, reply.Detail),
            };
        }
    }

    /// <summary>The first line of a message's text, at most 60 characters; null when it has no text.</summary>
    public static string? TitleFrom(byte[] contentJson)
    {
        using var doc = JsonDocument.Parse(contentJson);
        foreach (var item in doc.RootElement.EnumerateArray())
        {
            if (!item.TryGetProperty("text", out var t) || t.ValueKind != JsonValueKind.String) continue;
            var line = t.GetString()!.Trim().Split('\n', 2)[0].Trim();
            if (line.Length == 0) continue;
            return line.Length <= 60 ? line : line[..59].TrimEnd() + "…";
        }
        return null;
    }

    private static async Task<IResult> Get(string conversationId, RequestContext c)
    {
        var (id, denied) = await c.Open(conversationId);
        if (denied is not null) return denied;
        var (reply, error) = await Ask<InfoResult>(c.Region, new ConversationQueries.GetInfo(id), c.Limits);
        if (error is not null) return error;
        return reply!.Code == ResultCode.Ok ? Info(reply.Info!, 200) : FromCode(reply.Code, "Conversation not found");
    }

    /// <summary>
    /// <c>GET /api/conversations?ids=…&amp;ids=…</c> (agent-server's batch get; Agent Canvas' conversation page gate):
    /// one ConversationInfo or null per id, in the order given; null also for an id the key does not open.
    /// </summary>
    private static async Task<IResult> BatchGet(HttpRequest request, RequestContext c)
    {
        var raw = request.Query["ids"];
        if (raw.Count == 0) return Error(400, "ids is required (repeat it: ?ids=<id>&ids=<id>)");
        if (raw.Count >= MaxBatchIds) return Error(400, $"at most {MaxBatchIds - 1} ids at a time");
        var ids = new ConversationId[raw.Count];
        for (var i = 0; i < ids.Length; i++)
            if (!ConversationId.TryParse(raw[i], out ids[i])) return Error(400, $"ids[{i}] must be a conversation id (a UUID)");

        // A server key opens every id; a conversation's key opens its own. A key that opens none of them is a
        // failed authentication (counted), not a list of nulls, so the batch is no way to probe keys.
        bool[] opened;
        try
        {
            opened = await c.OpensEach(ids);
        }
        catch (AskTimeoutException)
        {
            return Error(503, "the conversation did not answer in time; try again");
        }
        if (!opened.Any(o => o)) return c.DeniedResult();
        var asks = ids.Select((id, i) => opened[i]
            ? Ask<InfoResult>(c.Region, new ConversationQueries.GetInfo(id), c.Limits)
            : Task.FromResult<(InfoResult?, IResult?)>((null, null))).ToArray();
        var replies = await Task.WhenAll(asks);
        if (replies.FirstOrDefault(r => r.Item2 is not null).Item2 is { } timeout) return timeout;
        return Results.Bytes(V1Json.Write(w =>
        {
            w.WriteStartArray();
            foreach (var (reply, _) in replies)
            {
                if (reply is { Code: ResultCode.Ok, Info: { } info }) WriteInfo(w, info, null);
                else w.WriteNullValue();
            }
            w.WriteEndArray();
        }), "application/json");
    }

    /// <summary>
    /// <c>POST …/interrupt</c> (Agent Canvas' Stop button): pauses like <c>pause</c>, marked with an InterruptEvent.
    /// The agent's steps are whole appends here, so there is no half-done tool call to cancel. 400 where the
    /// conversation cannot be interrupted (unknown, or a V0 conversation), as agent-server answers.
    /// </summary>
    private static async Task<IResult> Interrupt(string conversationId, RequestContext c)
    {
        var (id, denied) = await c.Open(conversationId);
        if (denied is not null) return denied;
        var (reply, error) = await Ask<CommandResult>(c.Region, new ConversationCommands.Pause(id, Interrupt: true), c.Limits);
        if (error is not null) return error;
        return reply!.Code switch
        {
            ResultCode.Ok => Success,
            ResultCode.NotFound => Error(400, "Conversation not found: nothing to interrupt"),
            _ => FromCode(reply.Code, reply.Detail),
        };
    }

    private static async Task<IResult> Search(HttpRequest request, RequestContext c)
    {
        if (c.AuthorizeServer() is { } denied) return denied;
        var q = request.Query;
        if (!TryLimit(q["limit"].FirstOrDefault(), out var limit, out var limitError)) return limitError!;
        if (!TryStatus(q, out var status, out var statusError)) return statusError!;
        var sort = (q["sort_order"].FirstOrDefault() ?? "CREATED_AT").ToUpperInvariant() switch
        {
            "CREATED_AT" => ConversationSort.CreatedAt,
            "CREATED_AT_DESC" => ConversationSort.CreatedAtDesc,
            "UPDATED_AT" => ConversationSort.UpdatedAt,
            "UPDATED_AT_DESC" => ConversationSort.UpdatedAtDesc,
            _ => (ConversationSort?)null,
        };
        if (sort is null) return Error(400, "sort_order must be CREATED_AT, CREATED_AT_DESC, UPDATED_AT or UPDATED_AT_DESC");
        var pageId = q["page_id"].FirstOrDefault();
        if (pageId is not null)
        {
            if (!ConversationId.TryParse(pageId, out var pid)) return Error(400, "page_id must be a conversation id");
            pageId = pid.Hex;
        }
        var (reply, error) = await Ask<DirectoryQueries.Page>(c.Directory, new DirectoryQueries.Search(status, pageId, limit, sort.Value), c.Limits);
        if (error is not null) return error;
        if (reply!.Code != ResultCode.Ok) return Error(400, "unknown page_id");
        return Results.Bytes(V1Json.Write(w =>
        {
            w.WriteStartObject();
            w.WriteStartArray("items"u8);
            foreach (var info in reply.Items) WriteInfo(w, info, null);
            w.WriteEndArray();
            if (reply.NextPageId is null) w.WriteNull("next_page_id"u8); else w.WriteString("next_page_id"u8, reply.NextPageId);
            w.WriteEndObject();
        }), "application/json");
    }

    private static async Task<IResult> Count(HttpRequest request, RequestContext c)
    {
        if (c.AuthorizeServer() is { } denied) return denied;
        if (!TryStatus(request.Query, out var status, out var statusError)) return statusError!;
        var (reply, error) = await Ask<DirectoryQueries.CountResult>(c.Directory, new DirectoryQueries.Count(status), c.Limits);
        return error ?? Results.Json(reply!.Count);
    }

    private static async Task<IResult> Delete(string conversationId, RequestContext c) =>
        await Command(conversationId, c, id => new ConversationCommands.Delete(id));

    private static async Task<IResult> Patch(string conversationId, RequestContext c)
    {
        var (id, denied) = await c.Open(conversationId);
        if (denied is not null) return denied;
        var (doc, error) = await ReadJsonObject(c.Http.Request, c.Limits, required: true);
        if (error is not null) return error;
        using (doc)
        {
            if (!doc!.RootElement.TryGetProperty("title", out var t) || t.ValueKind != JsonValueKind.String
                || t.GetString() is not { Length: > 0 and <= MaxTitleLength } title)
                return Error(400, $"title must be a non-empty string of at most {MaxTitleLength} characters");
            return await Send(c, new ConversationCommands.SetTitle(id, title));
        }
    }
}
