using Akka.Actor;
using Akka.Hosting;
using Akka.Sync.Actors.Conversations;
using Akka.Sync.Actors.Observability;
using Akka.Sync.Gateway.Auth;
using Akka.Sync.Gateway.Settings;
using Akka.Sync.Protocol;
using static Akka.Sync.Gateway.Endpoints.Http;

namespace Akka.Sync.Gateway.Endpoints;

/// <summary>
/// What every REST handler needs, resolved once per request (scoped): the request, the settings, the conversation
/// region and directory, and the key checks with their failed-authentication accounting.
/// </summary>
public sealed class RequestContext(IHttpContextAccessor accessor, GatewaySettings settings, ApiKeys keys, ConversationRouting routing,
    IRequiredActor<ConversationDirectoryKey> directory, FailedAuthLimiter limiter)
{
    private readonly HttpContext http = accessor.HttpContext ?? throw new InvalidOperationException("no request");
    public HttpContext Http => http;
    public LimitSettings Limits => settings.Limits;
    public GatewaySettings Settings => settings;
    public ApiKeys Keys => keys;
    /// <summary>The conversations: straight to an entity live on this node, else through the shard region (<see cref="ConversationRoute"/>).</summary>
    public IActorRef Region => routing.Route;
    public IActorRef Directory => directory.ActorRef;
    private string? Key => http.Request.Headers[ApiKeys.HeaderName].FirstOrDefault();

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

/// <summary>The node's one <see cref="ConversationRoute"/> for REST requests, made on first use (the region exists once Akka has started).</summary>
public sealed class ConversationRouting(IRequiredActor<ConversationRegion> region, ActorSystem system)
{
    private ConversationRoute? _route;

    public IActorRef Route => _route ??= new ConversationRoute(region.ActorRef, system);
}
