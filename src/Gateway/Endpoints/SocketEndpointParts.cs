using Akka.Actor;
using Akka.Hosting;
using Akka.Sync.Actors.Conversations;
using Akka.Sync.Gateway.Auth;
using Akka.Sync.Gateway.Sessions;
using Akka.Sync.Gateway.Settings;
using Akka.Sync.Gateway.Transport;

namespace Akka.Sync.Gateway.Endpoints;

/// <summary>
/// What a socket endpoint needs from the server, resolved once (on its first socket) and shared by all its sockets.
/// Parameters bound by the request delegate factory are resolved from <c>HttpContext.RequestServices</c>, which opens a
/// request scope per socket (its feature, scope, resolved-services table and dispose registration, ~400 bytes held for
/// the socket's life).
/// </summary>
internal sealed class SocketEndpointParts(IServiceProvider services, string logCategory)
{
    public GatewaySettings Settings { get; } = services.GetRequiredService<GatewaySettings>();
    public ApiKeys Keys { get; } = services.GetRequiredService<ApiKeys>();
    public ActorSystem System { get; } = services.GetRequiredService<ActorSystem>();
    public IActorRef Region { get; } = services.GetRequiredService<IRequiredActor<ConversationRegion>>().ActorRef;
    public ILogger Log { get; } = services.GetRequiredService<ILoggerFactory>().CreateLogger(logCategory);
    public FailedAuthLimiter Limiter { get; } = services.GetRequiredService<FailedAuthLimiter>();
    public SocketBudget Budget { get; } = services.GetRequiredService<SocketBudget>();

    /// <summary>
    /// The parts of an endpoint mapped on <paramref name="app"/>: resolved on its first socket (the services are not all
    /// registered yet when endpoints are mapped), then the same instance for every socket.
    /// </summary>
    public static Func<SocketEndpointParts> For(IEndpointRouteBuilder app, string logCategory)
    {
        var services = app.ServiceProvider;
        var parts = new Lazy<SocketEndpointParts>(() => new SocketEndpointParts(services, logCategory));
        return () => parts.Value;
    }

    /// <summary>What every session of this endpoint shares (one instance, not one per socket).</summary>
    public SessionServices Session => _session ??= new SessionServices(Settings, Keys, Limiter, System, Region, Budget, Log);
    private SessionServices? _session;
}
