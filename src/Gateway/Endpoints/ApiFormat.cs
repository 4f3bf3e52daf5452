using System.Text.Json;
using Akka.Sync.Protocol;
using Akka.Sync.Protocol.V1;
using static Akka.Sync.Gateway.Endpoints.Http;

namespace Akka.Sync.Gateway.Endpoints;

/// <summary>
/// What the REST routes share beyond <see cref="Http"/>: a ConversationInfo as agent-server writes it, and the query
/// parameters of the list routes (<c>limit</c>, <c>status</c>, the event filters), each bad value a 400 naming it.
/// </summary>
internal static class ApiFormat
{
    /// <summary>A ConversationInfo with a status (and, on create, the conversation's new key).</summary>
    public static IResult Info(ConversationInfo info, int status, string? key = null) =>
        new RawJson(V1Json.Write(w => WriteInfo(w, info, key)), status);

    public static void WriteInfo(Utf8JsonWriter w, ConversationInfo info, string? key)
    {
        w.WriteStartObject();
        V1Json.WriteInfoFields(w, info);
        w.WriteString("conversation_version"u8, info.Dialect == Dialect.V0 ? "V0" : "V1");
        if (key is not null) w.WriteString("session_api_key"u8, key);
        w.WriteEndObject();
    }

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

    public static bool TryStatus(IQueryCollection q, out ExecutionStatus? status, out IResult? error)
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

    public static bool TryLimit(string? raw, out int limit, out IResult? error)
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

    public static bool TryFilter(IQueryCollection q, out ConversationQueries.EventFilter filter, out IResult? error)
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
