using Akka.Hosting;
using Akka.Sync.Actors.Hosting;
using Akka.Sync.Gateway.Auth;
using Akka.Sync.Gateway.Endpoints;
using Akka.Sync.Gateway.Settings;

namespace Akka.Sync.Gateway;

/// <summary>Builds the server: settings, the actor system, then the endpoints. Program.cs and the tests share it.</summary>
public static partial class GatewayApp
{
    public static WebApplication Build(string[] args, Action<IConfigurationBuilder>? configure = null,
        Action<WebApplicationBuilder>? customize = null)
    {
        // appsettings.json ships beside the binary; relative paths in settings (./data) follow the working directory.
        var builder = WebApplication.CreateBuilder(new WebApplicationOptions { Args = args, ContentRootPath = AppContext.BaseDirectory });
        configure?.Invoke(builder.Configuration);
        customize?.Invoke(builder);
        // The embedded default listens on 127.0.0.1:8000; --urls / ASPNETCORE_URLS / "urls" override it.
        builder.WebHost.UseUrls(builder.Configuration["urls"] is { Length: > 0 } urls ? urls : "http://127.0.0.1:8000");
        var settings = GatewaySettings.From(builder.Configuration, builder.Environment.ContentRootPath);

        builder.Services.AddSingleton(settings);
        builder.Services.AddSingleton<ApiKeys>();
        builder.Services.AddHttpContextAccessor();
        builder.Services.AddScoped<ConversationEndpoints.Ctx>();
        builder.Services.AddSyncHealthChecks();
        builder.Services.AddAkka(settings.Akka.SystemName, (akka, _) => akka.AddAkkaSync(settings.Akka));

        var app = builder.Build();
        var log = app.Services.GetRequiredService<ILoggerFactory>().CreateLogger("Akka.Sync.Gateway");
        if (settings.SessionApiKeys.Length == 0)
            LogOpenServer(log);
        app.UseWebSockets();
        app.Use(async (http, next) =>
        {
            // The one request log line: keys in the query are masked (CONTRACT §8).
            await next();
            LogRequest(log, http.Request.Method, ApiKeys.Mask(http.Request.Path + http.Request.QueryString), http.Response.StatusCode);
        });
        app.MapHealth();
        app.MapEventSocket();
        app.MapSocketIo();
        app.MapConversationApi();
        return app;
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "No session API keys are configured: every route and socket is open. Set Auth:SessionApiKeys or SESSION_API_KEY outside local use.")]
    private static partial void LogOpenServer(ILogger log);

    [LoggerMessage(Level = LogLevel.Information, Message = "{Method} {Url} -> {Status}")]
    private static partial void LogRequest(ILogger log, string method, string url, int status);
}
