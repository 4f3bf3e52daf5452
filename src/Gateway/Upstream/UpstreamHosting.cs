using Akka.Sync.Actors.Following;
using Akka.Sync.Gateway.Settings;

namespace Akka.Sync.Gateway.Upstream;

public static class UpstreamHosting
{
    /// <summary>The services followers share: the key store and the HTTP client (one connection pool per node).</summary>
    public static IServiceCollection AddUpstreamFollowing(this IServiceCollection services, GatewaySettings settings, IConfiguration config)
    {
        var upstream = settings.Upstream;
        services.AddSingleton<IUpstreamKeys>(_ => new UpstreamKeyStore(upstream.KeyRingDirectory!, upstream.Url, config["Upstream:SessionApiKey"]));
        services.AddSingleton(sp => new UpstreamServices(upstream, sp.GetRequiredService<IUpstreamKeys>()));
        return services;
    }
}
