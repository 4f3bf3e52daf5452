using System.Text.Json;
using Akka.Sync.Actors.Following;
using Akka.Sync.Gateway.Endpoints;
using Akka.Sync.Gateway.Settings;
using Akka.Sync.Protocol;
using Akka.Sync.Protocol.V1;
using static Akka.Sync.Gateway.Endpoints.Http;

namespace Akka.Sync.Gateway.Upstream;

/// <summary>
/// The <c>upstream</c> field of <c>POST /api/conversations</c> (issue 16): the conversation follows an agent-server
/// conversation. <c>{"url","conversation_id","session_api_key"}</c> binds to an existing one (checked with
/// <c>GET /api/conversations/{id}</c> there); without <c>conversation_id</c> the conversation is first started upstream
/// with the request's own body (agent-server's <c>StartConversationRequest</c>, e.g. Agent Canvas' with its initial
/// message), under the same id. With <c>Upstream:Url</c> configured, a request without the field is started there; an
/// explicit <c>"upstream": null</c> follows nothing.
/// </summary>
internal static class UpstreamBinder
{
    public sealed record Bound(ConversationId Id, UpstreamBinding Binding, string? Title);

    /// <summary>The binding the request asks for (null: none), or the error to answer.</summary>
    public static async Task<(Bound? Bound, IResult? Error)> BindAsync(RequestContext c, JsonElement root, ConversationId? requested, Dialect dialect)
    {
        var settings = c.Settings.Upstream;
        string? url = settings.Url, upstreamId = null, key = null;
        if (root.TryGetProperty("upstream", out var up))
        {
            if (up.ValueKind == JsonValueKind.Null) return (null, null);
            if (up.ValueKind != JsonValueKind.Object) return (null, Error(400, "upstream must be an object {\"url\",\"conversation_id\",\"session_api_key\"}"));
            if (Text(up, "url", out var u) is { } e1) return (null, e1);
            if (Text(up, "conversation_id", out upstreamId) is { } e2) return (null, e2);
            if (Text(up, "session_api_key", out key) is { } e3) return (null, e3);
            url = u ?? url;
            if (url is null) return (null, Error(400, "upstream.url is required (no Upstream:Url is configured)"));
        }
        else if (url is null || dialect != Dialect.V1) return (null, null); // the configured upstream takes V1 creates only
        if (dialect != Dialect.V1) return (null, Error(400, "a conversation that follows an upstream agent server speaks v1"));
        if (!UpstreamClient.TryNormalizeUrl(url, out url, out var urlError)) return (null, Error(400, urlError));
        // The configured upstream's key stays in configuration; a key given here is stored, encrypted.
        var plainKey = key ?? (string.Equals(url, settings.Url, StringComparison.OrdinalIgnoreCase) ? c.Http.RequestServices.GetRequiredService<IConfiguration>()["Upstream:SessionApiKey"] : null);
        var services = c.Http.RequestServices.GetRequiredService<UpstreamServices>();
        ConversationId id;
        string? title = null;
        if (upstreamId is not null)
        {
            if (!Guid.TryParse(upstreamId, out var guid)) return (null, Error(400, "upstream.conversation_id must be a UUID"));
            if (root.TryGetProperty("initial_message", out var im) && im.ValueKind != JsonValueKind.Null)
                return (null, Error(400, "initial_message cannot come with upstream.conversation_id: send it with POST …/events once bound"));
            upstreamId = guid.ToString("D");
            id = requested ?? new ConversationId(guid);
            var client = new UpstreamClient(services.Http, settings, url, upstreamId, string.IsNullOrEmpty(plainKey) ? null : plainKey);
            var (answer, error) = await Call(() => client.GetConversationAsync(c.Http.RequestAborted), settings, "find the conversation");
            if (error is not null) return (null, error);
            title = TitleOf(answer!);
        }
        else
        {
            id = requested ?? ConversationId.New();
            var client = new UpstreamClient(services.Http, settings, url, "", string.IsNullOrEmpty(plainKey) ? null : plainKey);
            var start = StartRequest(root, id);
            var (answer, error) = await Call(() => client.StartConversationAsync(start, c.Http.RequestAborted), settings, "start the conversation");
            if (error is not null) return (null, error);
            using var doc = JsonDocument.Parse(answer!);
            if (!doc.RootElement.TryGetProperty("id", out var idElement) || !Guid.TryParse(idElement.GetString(), out var started))
                return (null, Error(502, "the upstream agent server started a conversation without an id"));
            upstreamId = started.ToString("D");
        }
        var protectedKey = string.IsNullOrEmpty(key) ? null : services.Keys.Protect(key);
        return (new Bound(id, new UpstreamBinding(url, upstreamId, protectedKey), title), null);
    }

    /// <summary>The request as agent-server's start request: without <c>upstream</c>, with this conversation's id.</summary>
    private static byte[] StartRequest(JsonElement root, ConversationId id) => V1Json.Write(w =>
    {
        w.WriteStartObject();
        foreach (var p in root.EnumerateObject())
            if (!p.NameEquals("upstream") && !p.NameEquals("conversation_id")) p.WriteTo(w);
        w.WriteString("conversation_id"u8, id.Value.ToString("D"));
        w.WriteEndObject();
    });

    /// <summary>Calls the upstream: its 2xx body, or this server's answer for what went wrong (the key never named).</summary>
    private static async Task<(byte[]? Body, IResult? Error)> Call(Func<Task<(int Status, byte[] Body)>> call, UpstreamSettings settings, string what)
    {
        try
        {
            var (status, body) = await call();
            return status switch
            {
                >= 200 and < 300 => (body, null),
                401 or 403 => (null, Error(400, $"the upstream agent server refused upstream.session_api_key ({status})")),
                404 => (null, Error(400, "the upstream agent server does not know the conversation (404)")),
                >= 400 and < 500 => (null, Error(400, $"the upstream agent server could not {what} ({status}): {UpstreamClient.Detail(body)}")),
                _ => (null, Error(502, $"the upstream agent server could not {what} ({status}): {UpstreamClient.Detail(body)}")),
            };
        }
        catch (OperationCanceledException)
        {
            return (null, Error(504, $"the upstream agent server did not answer within {settings.RequestTimeout.TotalSeconds:0.#} s"));
        }
        catch (HttpRequestException e)
        {
            return (null, Error(502, "the upstream agent server could not be reached: " + e.Message));
        }
    }

    private static IResult? Text(JsonElement o, string name, out string? value)
    {
        value = null;
        if (!o.TryGetProperty(name, out var p) || p.ValueKind == JsonValueKind.Null) return null;
        if (p.ValueKind != JsonValueKind.String || p.GetString() is not { Length: > 0 } s) return Error(400, $"upstream.{name} must be a non-empty string");
        value = s;
        return null;
    }

    private static string? TitleOf(byte[] info)
    {
        try
        {
            using var doc = JsonDocument.Parse(info);
            return doc.RootElement.TryGetProperty("title", out var t) && t.ValueKind == JsonValueKind.String ? t.GetString() : null;
        }
        catch (JsonException)
        {
            return null;
        }
    }
}
