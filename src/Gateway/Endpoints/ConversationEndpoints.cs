using System.Text;
using System.Text.Json;
using Akka.Actor;
using Akka.Hosting;
using Akka.Sync.Actors.Conversations;
using Akka.Sync.Actors.Observability;
using Akka.Sync.Gateway.Auth;
using Akka.Sync.Gateway.Settings;
using Akka.Sync.Protocol;
using Akka.Sync.Protocol.V0;
using Akka.Sync.Protocol.V1;
using static Akka.Sync.Gateway.Endpoints.Http;
using static Akka.Sync.Protocol.ConversationReplies;

namespace Akka.Sync.Gateway.Endpoints;

/// <summary>
/// The OpenHands agent-server REST routes (CONTRACT §7). Each validates, asks the conversation entity
/// (or the directory for collection routes) and maps the answer to HTTP; none touches the journal itself.
/// </summary>
public static class ConversationEndpoints
{
    private const int MaxTitleLength = 500;

    public static IEndpointRouteBuilder MapConversationApi(this IEndpointRouteBuilder app)
    {
        var api = app.MapGroup("/api/conversations");

        api.MapPost("", Create);
        api.MapGet("", BatchGet);
        api.MapGet("/search", Search);
        api.MapGet("/count", Count);
        api.MapGet("/{conversationId}", Get);
        api.MapDelete("/{conversationId}", Delete);
        api.MapPatch("/{conversationId}", Patch);
        api.MapPost("/{conversationId}/run", (string conversationId, Ctx c) =>
            Command(conversationId, c, id => new ConversationCommands.Run(id)));
        api.MapPost("/{conversationId}/pause", (string conversationId, Ctx c) =>
            Command(conversationId, c, id => new ConversationCommands.Pause(id)));
        api.MapPost("/{conversationId}/interrupt", Interrupt);
        api.MapGet("/{conversationId}/events/search", SearchEvents);
        api.MapGet("/{conversationId}/events/count", CountEvents);
        api.MapGet("/{conversationId}/events/{eventId}", GetEvent);
        api.MapPost("/{conversationId}/events", SendMessage);
        api.MapPost("/{conversationId}/events/respond_to_confirmation", RespondToConfirmation);
        api.MapPost("/{conversationId}/agent/events", IngestAgentEvents);

        app.MapGet("/api/v1/events/count", async (HttpRequest request, Ctx c) =>
        {
            var raw = request.Query["conversation_id__eq"].FirstOrDefault();
            if (!ConversationId.TryParse(raw, out var id)) return Error(400, "conversation_id__eq must be a conversation id");
            if (await c.Authorize(id) is { } denied) return denied;
            var (reply, error) = await Ask<EventCount>(c.Region, new ConversationQueries.CountEvents(id, ConversationQueries.EventFilter.None), c.Limits);
            if (error is not null) return error;
            // The OpenHands frontend polls this for a conversation that may not exist yet: 0 there.
            return Results.Json(reply!.Code == ResultCode.Ok ? reply.Count : 0);
        });
        return app;
    }

    /// <summary>What every handler needs, resolved once per request.</summary>
    public sealed class Ctx(IHttpContextAccessor accessor, GatewaySettings settings, ApiKeys keys, IRequiredActor<ConversationRegion> region,
        IRequiredActor<ConversationDirectoryKey> directory, FailedAuthLimiter limiter)
    {
        private readonly HttpContext http = accessor.HttpContext ?? throw new InvalidOperationException("no request");
        public HttpContext Http => http;
        public LimitSettings Limits => settings.Limits;
        public GatewaySettings Settings => settings;
        public ApiKeys Keys => keys;
        public IActorRef Region => region.ActorRef;
        public IActorRef Directory => directory.ActorRef;
        private string? Key => http.Request.Headers[EventSocketEndpoint.HeaderName].FirstOrDefault();

        public IResult? AuthorizeServer()
        {
            if (keys.IsOpen) return null;
            if (limiter.IsBlocked(http)) return TooMany();
            return keys.ForServer(Key) == AuthOutcome.Denied ? Denied() : null;
        }

        public async Task<IResult?> Authorize(ConversationId id)
        {
            if (keys.IsOpen) return null;
            if (limiter.IsBlocked(http)) return TooMany();
            try
            {
                return await keys.ForConversation(Key, id, Limits.AskTimeout) == AuthOutcome.Denied ? Denied() : null;
            }
            catch (AskTimeoutException)
            {
                return Error(503, "the conversation did not answer in time; try again");
            }
        }

        /// <summary>Which of these conversations the request's key opens (all of them for a server key or an open server).</summary>
        public async Task<bool[]> OpensEach(ConversationId[] ids)
        {
            if (keys.IsOpen || keys.IsServerKey(Key)) return ids.Select(_ => true).ToArray();
            if (limiter.IsBlocked(http) || string.IsNullOrEmpty(Key)) return new bool[ids.Length];
            var outcomes = await Task.WhenAll(ids.Select(id => keys.ForConversation(Key, id, Limits.AskTimeout)));
            return outcomes.Select(o => o != AuthOutcome.Denied).ToArray();
        }

        /// <summary>The answer to a request whose key opens nothing it asked for (429 once the client is locked out).</summary>
        public IResult DeniedResult() => limiter.IsBlocked(http) ? TooMany() : Denied();

        private IResult Denied()
        {
            SyncMetrics.AuthFailures.Add(1, new KeyValuePair<string, object?>("surface", "rest"));
            limiter.Failed(http);
            return Error(401, "a valid X-Session-API-Key is required");
        }

        private IResult TooMany()
        {
            http.Response.Headers.RetryAfter = "60";
            return Error(429, FailedAuthLimiter.Detail);
        }

        /// <summary>Parses the route id and checks the key for it; the error result otherwise.</summary>
        public async Task<(ConversationId Id, IResult? Error)> Open(string conversationId)
        {
            if (!ConversationId.TryParse(conversationId, out var id))
                return (default, Error(400, "conversation id must be a UUID (dashed or 32 hex digits)"));
            return (id, await Authorize(id));
        }
    }

    // ---- conversations ----

    private static async Task<IResult> Create(Ctx c)
    {
        if (c.AuthorizeServer() is { } denied) return denied;
        var (doc, error) = await ReadJsonObject(c.Http.Request, c.Limits, required: false);
        if (error is not null) return error;
        using (doc)
        {
            var root = doc!.RootElement;
            var id = ConversationId.New();
            if (root.TryGetProperty("conversation_id", out var cid) && cid.ValueKind != JsonValueKind.Null)
            {
                if (cid.ValueKind != JsonValueKind.String || !ConversationId.TryParse(cid.GetString(), out id))
                    return Error(400, "conversation_id must be a UUID (dashed or 32 hex digits)");
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
            var key = ApiKeys.NewKey();
            var (reply, askError) = await Ask<CreateResult>(c.Region,
                new ConversationCommands.Create(id, dialect, title, initial, ApiKeys.Hash(key)), c.Limits);
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

    private static async Task<IResult> Get(string conversationId, Ctx c)
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
    private static async Task<IResult> BatchGet(HttpRequest request, Ctx c)
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

    /// <summary>agent-server's batch get refuses 100 ids or more.</summary>
    private const int MaxBatchIds = 100;

    /// <summary>
    /// <c>POST …/interrupt</c> (Agent Canvas' Stop button): pauses like <c>pause</c>, marked with an InterruptEvent.
    /// The agent's steps are whole appends here, so there is no half-done tool call to cancel. 400 where the
    /// conversation cannot be interrupted (unknown, or a V0 conversation), as agent-server answers.
    /// </summary>
    private static async Task<IResult> Interrupt(string conversationId, Ctx c)
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

    private static async Task<IResult> Search(HttpRequest request, Ctx c)
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

    private static async Task<IResult> Count(HttpRequest request, Ctx c)
    {
        if (c.AuthorizeServer() is { } denied) return denied;
        if (!TryStatus(request.Query, out var status, out var statusError)) return statusError!;
        var (reply, error) = await Ask<DirectoryQueries.CountResult>(c.Directory, new DirectoryQueries.Count(status), c.Limits);
        return error ?? Results.Json(reply!.Count);
    }

    private static async Task<IResult> Delete(string conversationId, Ctx c) =>
        await Command(conversationId, c, id => new ConversationCommands.Delete(id));

    private static async Task<IResult> Patch(string conversationId, Ctx c)
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

    // ---- events ----

    private static async Task<IResult> SearchEvents(string conversationId, HttpRequest request, Ctx c)
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

    private static async Task<IResult> CountEvents(string conversationId, HttpRequest request, Ctx c)
    {
        var (id, denied) = await c.Open(conversationId);
        if (denied is not null) return denied;
        if (!TryFilter(request.Query, out var filter, out var filterError)) return filterError!;
        var (reply, error) = await Ask<EventCount>(c.Region, new ConversationQueries.CountEvents(id, filter), c.Limits);
        if (error is not null) return error;
        return reply!.Code == ResultCode.Ok ? Results.Json(reply.Count) : FromCode(reply.Code, "Conversation not found");
    }

    private static async Task<IResult> GetEvent(string conversationId, string eventId, Ctx c)
    {
        var (id, denied) = await c.Open(conversationId);
        if (denied is not null) return denied;
        if (!Guid.TryParse(eventId, out var eid)) return Error(400, "event id must be a UUID");
        var (reply, error) = await Ask<EventResult>(c.Region, new ConversationQueries.GetEvent(id, eid.ToString("D")), c.Limits);
        if (error is not null) return error;
        return reply!.Code == ResultCode.Ok ? Results.Bytes(reply.Json!, "application/json") : FromCode(reply.Code, "Event not found");
    }

    private static async Task<IResult> SendMessage(string conversationId, Ctx c)
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

    private static async Task<IResult> RespondToConfirmation(string conversationId, Ctx c)
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

    private static async Task<IResult> IngestAgentEvents(string conversationId, Ctx c)
    {
        var (id, denied) = await c.Open(conversationId);
        if (denied is not null) return denied;
        var (body, error) = await ReadBody(c.Http.Request, c.Limits, required: true);
        if (error is not null) return error;
        // The body says its dialect (V1 events have kind, V0 events action/observation); the conversation checks it is its own.
        object command;
        if (V0Json.LooksLikeV0Batch(body))
        {
            if (!V0Json.TryParseBatch(body, c.Limits.MaxBatchEvents, out var v0Events, out var v0Error, out var v0TooMany))
                return Error(v0TooMany ? 413 : 400, v0Error);
            command = new ConversationCommands.AppendV0Events(id, v0Events);
        }
        else
        {
            if (!V1Inbound.TryParseIngestBatch(body, c.Limits.MaxBatchEvents, out var events, out var parseError, out var tooMany))
                return Error(tooMany ? 413 : 400, parseError);
            command = new ConversationCommands.AppendEvents(id, events);
        }
        var (reply, askError) = await Ask<AppendResult>(c.Region, command, c.Limits);
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

    // ---- helpers ----

    private static async Task<IResult> Command(string conversationId, Ctx c, Func<ConversationId, object> command)
    {
        var (id, denied) = await c.Open(conversationId);
        return denied ?? await Send(c, command(id));
    }

    private static async Task<IResult> Send(Ctx c, object command)
    {
        var (reply, error) = await Ask<CommandResult>(c.Region, command, c.Limits);
        if (error is not null) return error;
        return reply!.Code == ResultCode.Ok ? Success : FromCode(reply.Code, reply.Detail);
    }

    private static IResult FromCode(ResultCode code, string? detail) => code switch
    {
        ResultCode.NotFound => Error(404, detail ?? "Conversation not found"),
        ResultCode.Conflict => Error(409, detail ?? "conflict"),
        ResultCode.BadRequest => Error(400, detail ?? "bad request"),
        ResultCode.Unavailable => Error(503, "the journal is unavailable; nothing was stored"),
        _ => Error(500, detail ?? "unexpected result"),
    };

    private static IResult Info(ConversationInfo info, int status, string? key = null) =>
        new RawJson(V1Json.Write(w => WriteInfo(w, info, key)), status);

    /// <summary>JSON bytes written as they are, with a status.</summary>
    private sealed class RawJson(byte[] body, int status) : IResult
    {
        public Task ExecuteAsync(HttpContext http)
        {
            http.Response.StatusCode = status;
            http.Response.ContentType = "application/json";
            return http.Response.Body.WriteAsync(body).AsTask();
        }
    }

    private static void WriteInfo(Utf8JsonWriter w, ConversationInfo info, string? key)
    {
        w.WriteStartObject();
        V1Json.WriteInfoFields(w, info);
        w.WriteString("conversation_version"u8, info.Dialect == Dialect.V0 ? "V0" : "V1");
        if (key is not null) w.WriteString("session_api_key"u8, key);
        w.WriteEndObject();
    }

    private static bool TryStatus(IQueryCollection q, out ExecutionStatus? status, out IResult? error)
    {
        status = null;
        error = null;
        if (q["status"].FirstOrDefault() is not { } raw) return true;
        if (!ExecutionStatusNames.TryParse(raw, out var parsed))
        {
            error = Error(400, $"unknown status '{raw}'");
            return false;
        }
        status = parsed;
        return true;
    }

    private static bool TryLimit(string? raw, out int limit, out IResult? error)
    {
        limit = 100;
        error = null;
        if (raw is null) return true;
        if (!int.TryParse(raw, out limit) || limit < 1 || limit > 100)
        {
            error = Error(400, "limit must be an integer from 1 to 100");
            return false;
        }
        return true;
    }

    private static bool TryFilter(IQueryCollection q, out ConversationQueries.EventFilter filter, out IResult? error)
    {
        filter = ConversationQueries.EventFilter.None;
        error = null;
        var source = q["source"].FirstOrDefault();
        if (source is not null && !EventSources.IsValid(source))
        {
            error = Error(400, "source must be agent, user or environment");
            return false;
        }
        long? gte = null, lt = null;
        if (q["timestamp__gte"].FirstOrDefault() is { } g)
        {
            if (!WireTime.TryParse(g, out var t)) { error = Error(400, "timestamp__gte must be an ISO 8601 timestamp"); return false; }
            gte = t.Ticks;
        }
        if (q["timestamp__lt"].FirstOrDefault() is { } l)
        {
            if (!WireTime.TryParse(l, out var t)) { error = Error(400, "timestamp__lt must be an ISO 8601 timestamp"); return false; }
            lt = t.Ticks;
        }
        filter = new ConversationQueries.EventFilter(q["kind"].FirstOrDefault(), source, gte, lt);
        return true;
    }
}
