using Akka.Actor;
using Akka.Hosting;
using Akka.Sync.Actors.Observability;
using OpenTelemetry.Metrics;
using Akka.Sync.Actors.Hosting;
using Akka.Sync.Gateway.Auth;
using Akka.Sync.Gateway.Endpoints;
using Akka.Sync.Gateway.Settings;
using Akka.Sync.Gateway.Upstream;
using Akka.Sync.Gateway.Web;
using Microsoft.AspNetCore.WebUtilities;

namespace Akka.Sync.Gateway;

/// <summary>Builds the server: settings, the actor system, then the endpoints. Program.cs and the tests share it.</summary>
public static partial class GatewayApp
{
    public static WebApplication Build(string[] args, Action<IConfigurationBuilder>? configure = null,
        Action<WebApplicationBuilder>? customize = null)
    {
        // appsettings.json ships beside the binary; relative paths in settings (./data) follow the working directory.
        // The slim builder: the same configuration sources, logging and Kestrel, without IIS integration, HTTP/3 (QUIC)
        // and hosting-startup scanning, none of which this server uses; each was loaded and initialised at start (~2 MB
        // of an idle node, bench/NOTES.md "a node at rest"). HTTPS endpoints configured under Kestrel: still work.
        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions
        {
            Args = args,
            ContentRootPath = AppContext.BaseDirectory,
            WebRootPath = Path.Combine(AppContext.BaseDirectory, "wwwroot"),
        });
        builder.WebHost.UseKestrelHttpsConfiguration();
        configure?.Invoke(builder.Configuration);
        customize?.Invoke(builder);
        // The embedded default listens on 127.0.0.1:8000; --urls / ASPNETCORE_URLS / "urls" override it.
        builder.WebHost.UseUrls(builder.Configuration["urls"] is { Length: > 0 } urls ? urls : "http://127.0.0.1:8000");
        var settings = GatewaySettings.From(builder.Configuration, builder.Environment.ContentRootPath);

        builder.Services.AddSingleton(settings);
        builder.Services.AddSingleton<ApiKeys>();
        builder.Services.AddSingleton<FailedAuthLimiter>();
        builder.Services.AddSingleton<Transport.SocketBudget>();
        builder.Services.AddSingleton<WebClients.CanvasHolder>();
        builder.Services.AddHttpContextAccessor();
        builder.Services.AddSingleton<ConversationRouting>();
        builder.Services.AddScoped<RequestContext>();
        builder.Services.AddSyncHealthChecks();
        builder.Services.AddUpstreamFollowing(settings, builder.Configuration);
        builder.Services.AddAkka(settings.Akka.SystemName, (akka, sp) =>
            akka.AddAkkaSync(settings.Akka with { Upstream = sp.GetRequiredService<Actors.Following.UpstreamServices>() }));
        builder.Services.AddSingleton<ClusterMetrics>();
        builder.Services.AddOpenApi();
        builder.Services.AddCors(o => o.AddDefaultPolicy(p => p
            .SetIsOriginAllowed(settings.Cors.IsAllowed)
            .AllowAnyHeader()
            .AllowAnyMethod()
            // Agent Canvas calls /api/auth/workspace-session with credentials; keys travel in headers, never cookies.
            .AllowCredentials()));
        builder.Services.AddOpenTelemetry().WithMetrics(m => m
            .AddMeter(SyncMetrics.MeterName, ClusterMetrics.MeterName)
            .AddPrometheusExporter());

        var app = builder.Build();
        // A node that stops (SIGTERM, a rolling restart) turns /ready off and sends new sockets elsewhere (1012) at once;
        // its open sockets keep streaming while it hands its conversations over (CoordinatedShutdown), then are closed
        // with 1012 as it leaves the cluster, so their clients resume where the conversations already are.
        var sockets = app.Services.GetRequiredService<Transport.SocketBudget>();
        app.Lifetime.ApplicationStopping.Register(() =>
        {
            sockets.StopAccepting();
            // On SIGTERM Akka's own hook has already started this; when the host is stopped otherwise, start it now,
            // beside Kestrel's stop, which waits for the sockets the hand-over closes.
            _ = CoordinatedShutdown.Get(app.Services.GetRequiredService<ActorSystem>()).Run(CoordinatedShutdown.ClrExitReason.Instance);
        });
        app.Lifetime.ApplicationStarted.Register(() =>
        {
            app.Services.GetRequiredService<ClusterMetrics>();
            SyncMetrics.StartAtZero();
            var system = app.Services.GetRequiredService<ActorSystem>();
            // The same when the actor system stops on its own (this node was downed): its sockets would otherwise hang.
            var shutdown = CoordinatedShutdown.Get(system);
            shutdown.AddTask(CoordinatedShutdown.PhaseBeforeServiceUnbind, "stop-accepting-sockets", () =>
            {
                sockets.StopAccepting();
                return Task.FromResult(Done.Instance);
            });
            shutdown.AddTask(CoordinatedShutdown.PhaseClusterLeave, "close-sockets", () =>
            {
                sockets.Drain();
                return Task.FromResult(Done.Instance);
            });
            var cluster = Akka.Cluster.Cluster.Get(system);
            LogNodeStarted(app.Logger, cluster.SelfAddress.ToString(), string.Join(' ', app.Urls));
            cluster.RegisterOnMemberUp(() => LogMemberUp(app.Logger, cluster.SelfAddress.ToString(), cluster.State.Members.Count));
            // Once, a few seconds after this node is Up (its singletons and regions started): one compacting collection
            // that also returns free memory to the OS. Startup (configuration, DI, cluster formation) leaves garbage the
            // GC would otherwise keep committed until load comes: an idle node held 168 MB without it, 154 MB with it
            // (bench/NOTES.md, "a node at rest"). It costs one pause of a few milliseconds on a heap of ~10 MB.
            cluster.RegisterOnMemberUp(() => _ = Task.Delay(TimeSpan.FromSeconds(5)).ContinueWith(
                _ => GC.Collect(2, GCCollectionMode.Aggressive, blocking: true, compacting: true), TaskScheduler.Default));
        });
        var log = app.Services.GetRequiredService<ILoggerFactory>().CreateLogger("Akka.Sync.Gateway");
        if (settings.SessionApiKeys.Length == 0)
            LogOpenServer(log);
        if (Transport.SocketBudget.DescriptorLimit() is { } files && files < settings.Limits.MaxSocketsPerNode + Transport.SocketBudget.OtherDescriptors)
            LogFewDescriptors(log, files, settings.Limits.MaxSocketsPerNode, settings.Limits.MaxSocketsPerNode + Transport.SocketBudget.OtherDescriptors);
        if (settings.ForwardedHeaders.Enabled) app.UseForwardedHeaders(ForwardedHeaders(settings.ForwardedHeaders));
        // The one request log line, and agent-server's {"detail": <reason>} for an error status with no body (405, a bare
        // 404 or 401) — ASP.NET's status-code pages in the same async frame: every socket holds this frame for its life,
        // and a second middleware's frame, feature and the Func<Task> of app.Use's other overload cost ~300 bytes more.
        app.Use(async (HttpContext http, RequestDelegate next) =>
        {
            ServerInfoEndpoints.Touch();
            await next(http);
            await WriteBareErrorDetail(http);
            // Keys in the query are masked (CONTRACT §8).
            LogRequest(log, http.Request.Method, ApiKeys.Mask(http.Request.Path, http.Request.QueryString), http.Response.StatusCode);
        });
        app.UseWebClientFiles(settings);
        app.UseRouting();
        app.UseCanvasRoutes();
        app.UseWebSockets();
        // CORS does not apply to WebSocket handshakes (browsers do not enforce it there), and its middleware resolves its
        // policy provider from a request scope and marks HttpContext.Items on every request: for a socket, ~500 bytes
        // held for its life. Upgrades skip it.
        app.UseWhen(http => !http.WebSockets.IsWebSocketRequest, branch => branch.UseCors());
        app.MapHealth();
        app.MapServerInfo();
        app.MapClientSetup();
        app.MapOpenApi("/openapi/{documentName}.json");
        app.MapPrometheusScrapingEndpoint("/metrics");
        app.MapEventSocket();
        app.MapSocketIo();
        app.MapConversationApi();
        app.MapClusterApi();
        app.MapWebClients();
        return app;
    }

    /// <summary>
    /// An error status that went out with no body gets <c>{"detail": &lt;reason phrase&gt;}</c>, under the same conditions
    /// as ASP.NET's status-code pages: nothing started, 400–599, no length and no content type set. A refused WebSocket
    /// upgrade below 500 is left alone.
    /// </summary>
    internal static Task WriteBareErrorDetail(HttpContext http)
    {
        var response = http.Response;
        if (response.HasStarted || response.StatusCode is < 400 or >= 600 || response.ContentLength.HasValue
            || !string.IsNullOrEmpty(response.ContentType))
            return Task.CompletedTask;
        if (http.WebSockets.IsWebSocketRequest && response.StatusCode < 500) return Task.CompletedTask;
        return response.WriteAsJsonAsync(new { detail = ReasonPhrases.GetReasonPhrase(response.StatusCode) });
    }

    /// <summary>X-Forwarded-For (and -Proto) believed from the configured proxies only (ASP.NET's own defaults cleared).</summary>
    private static ForwardedHeadersOptions ForwardedHeaders(ForwardedHeadersSettings settings)
    {
        var options = new ForwardedHeadersOptions
        {
            ForwardedHeaders = Microsoft.AspNetCore.HttpOverrides.ForwardedHeaders.XForwardedFor | Microsoft.AspNetCore.HttpOverrides.ForwardedHeaders.XForwardedProto,
            ForwardLimit = settings.ForwardLimit,
        };
        options.KnownProxies.Clear();
        options.KnownIPNetworks.Clear();
        foreach (var proxy in settings.KnownProxies) options.KnownProxies.Add(System.Net.IPAddress.Parse(proxy));
        foreach (var network in settings.KnownNetworks) options.KnownIPNetworks.Add(System.Net.IPNetwork.Parse(network));
        return options;
    }

    /// <summary>Cluster membership as a gauge, by member status, read when scraped (one meter per server instance).</summary>
    private sealed class ClusterMetrics : IDisposable
    {
        public const string MeterName = "Akka.Sync.Cluster";
        private readonly System.Diagnostics.Metrics.Meter _meter = new(MeterName);

        public ClusterMetrics(ActorSystem system) =>
            _meter.CreateObservableGauge("akka_sync.cluster.members", () =>
                Akka.Cluster.Cluster.Get(system).State.Members
                    .GroupBy(m => m.Status)
                    .Select(g => new System.Diagnostics.Metrics.Measurement<long>(g.Count(),
                        new KeyValuePair<string, object?>("status", g.Key.ToString().ToLowerInvariant()))),
                "{member}", "Cluster members by status");

        public void Dispose() => _meter.Dispose();
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "No session API keys are configured: every route and socket is open. Set Auth:SessionApiKeys or SESSION_API_KEY outside local use.")]
    private static partial void LogOpenServer(ILogger log);

    [LoggerMessage(Level = LogLevel.Warning, Message = "This process may open {Files} files, fewer than Limits:MaxSocketsPerNode ({MaxSockets}) sockets need: past it new connections fail at accept instead of closing 1013. Raise the open-file limit (ulimit -n / LimitNOFILE / the container's nofile) to at least {Needed}, or lower Limits:MaxSocketsPerNode")]
    private static partial void LogFewDescriptors(ILogger log, long files, int maxSockets, int needed);

    [LoggerMessage(Level = LogLevel.Information, Message = "Akka.Sync node {Address} serving {Urls}")]
    private static partial void LogNodeStarted(ILogger log, string address, string urls);

    [LoggerMessage(Level = LogLevel.Information, Message = "Cluster member {Address} is Up ({Members} members)")]
    private static partial void LogMemberUp(ILogger log, string address, int members);

    [LoggerMessage(Level = LogLevel.Information, Message = "{Method} {Url} -> {Status}")]
    private static partial void LogRequest(ILogger log, string method, string url, int status);
}
