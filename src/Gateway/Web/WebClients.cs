using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;
using Akka.Sync.Gateway.Settings;
using Microsoft.AspNetCore.StaticFiles;
using Microsoft.Extensions.FileProviders;
using Microsoft.Net.Http.Headers;

namespace Akka.Sync.Gateway.Web;

/// <summary>
/// The browser clients: the hand-written inspector at <c>/inspector/</c>, and, when <c>Web:CanvasPath</c> names an
/// Agent Canvas build, the OpenHands web client at <c>/</c> on this server's own origin (its bundle only works at the
/// root: absolute <c>/assets/…</c> URLs, router base <c>/</c>). Everything else that matches no route answers 404
/// <c>{"detail":"Not Found"}</c>, as agent-server does.
/// </summary>
public static class WebClients
{
    /// <summary>Paths that belong to the API, never to a client route of the canvas.</summary>
    private static readonly string[] ApiPrefixes = ["/api", "/sockets", "/socket.io", "/server_info", "/alive", "/ready", "/metrics", "/openapi", "/cluster", "/inspector"];

    /// <summary>The files: the canvas' page and bundle when configured, then the inspector. Runs before routing.</summary>
    public static WebApplication UseWebClientFiles(this WebApplication app, GatewaySettings settings)
    {
        var canvas = settings.Web.CanvasPath is { Length: > 0 } path ? Canvas.Load(path, settings) : null;
        if (canvas is not null)
        {
            app.Services.GetRequiredService<CanvasHolder>().Canvas = canvas;
            // index.html goes out with the key script injected, never as the bare file.
            app.Use((http, next) => HttpMethods.IsGet(http.Request.Method) && (http.Request.Path == "/" || http.Request.Path == "/index.html")
                ? canvas.WriteIndex(http)
                : next(http));
            app.UseStaticFiles(new StaticFileOptions
            {
                FileProvider = canvas.Files,
                ContentTypeProvider = new FileExtensionContentTypeProvider(),
                OnPrepareResponse = c => c.Context.Response.Headers.CacheControl =
                    c.Context.Request.Path.StartsWithSegments("/assets") ? "public, max-age=31536000, immutable" : "no-cache",
            });
        }
        app.UseDefaultFiles(); // /inspector/ → /inspector/index.html
        app.UseStaticFiles();
        return app;
    }

    /// <summary>
    /// After routing: a GET that matched no route and is one of the canvas' own routes (/conversations/…, /settings, …)
    /// loads its page. Whatever else matches nothing gets its JSON 404 (or 405) from the status-code page (GatewayApp).
    /// </summary>
    public static WebApplication UseCanvasRoutes(this WebApplication app)
    {
        var holder = app.Services.GetRequiredService<CanvasHolder>();
        if (holder.Canvas is not { } canvas) return app;
        app.Use((http, next) =>
            http.GetEndpoint() is null && (HttpMethods.IsGet(http.Request.Method) || HttpMethods.IsHead(http.Request.Method))
            && IsClientRoute(http.Request.Path)
                ? canvas.WriteIndex(http)
                : next(http));
        return app;
    }

    /// <summary><c>/</c> leads to the inspector when there is no canvas.</summary>
    public static IEndpointRouteBuilder MapWebClients(this IEndpointRouteBuilder app)
    {
        if (app.ServiceProvider.GetRequiredService<CanvasHolder>().Canvas is null)
            app.MapGet("/", () => Results.Redirect("/inspector/")).ExcludeFromDescription();
        return app;
    }

    /// <summary>The loaded canvas, if any, shared between the file middleware and the fallback route.</summary>
    public sealed class CanvasHolder
    {
        internal Canvas? Canvas { get; set; }
    }

    /// <summary>A path the canvas' router owns: not an API path, and not a file (no extension in its last segment).</summary>
    public static bool IsClientRoute(PathString path)
    {
        var value = path.Value ?? "/";
        foreach (var prefix in ApiPrefixes)
            if (path.StartsWithSegments(prefix, StringComparison.OrdinalIgnoreCase)) return false;
        var last = value[(value.LastIndexOf('/') + 1)..];
        return !last.Contains('.');
    }

    /// <summary>The script the canvas' own static server puts before <c>&lt;/head&gt;</c>: which key to use, no telemetry.</summary>
    public static string ConfigScript(GatewaySettings settings)
    {
        var sb = new StringBuilder("<script>");
        // An open server needs no key, but the canvas creates its default backend (this origin) only when it is
        // handed a non-empty one: any value opens an open server.
        var key = settings.Web.CanvasSessionApiKey ?? (settings.SessionApiKeys.Length == 0 ? "open" : null);
        if (key is not null)
            sb.Append("window.__AGENT_CANVAS_SESSION_API_KEY__=")
              .Append(JsonSerializer.Serialize(key, new JsonSerializerOptions { Encoder = JavaScriptEncoder.Default }))
              .Append(';');
        else
            sb.Append("window.__AGENT_CANVAS_AUTH_REQUIRED__=true;"); // the page asks its user for a key
        sb.Append("window.__AGENT_CANVAS_DO_NOT_TRACK__=true;</script>");
        return sb.ToString();
    }

    internal sealed class Canvas(PhysicalFileProvider files, byte[] index)
    {
        public IFileProvider Files => files;

        public static Canvas Load(string path, GatewaySettings settings)
        {
            var root = Path.GetFullPath(path);
            var indexFile = Path.Combine(root, "index.html");
            if (!File.Exists(indexFile))
                throw new InvalidOperationException(
                    $"Web:CanvasPath '{root}' holds no index.html: point it at an Agent Canvas build (scripts/fetch-canvas)");
            if (settings.Web.CanvasSessionApiKey is { } key && settings.SessionApiKeys.Length > 0
                && !settings.SessionApiKeys.Contains(key, StringComparer.Ordinal))
                throw new InvalidOperationException("Web:CanvasSessionApiKey must be one of the server keys (Auth:SessionApiKeys)");
            var html = File.ReadAllText(indexFile);
            var script = ConfigScript(settings);
            var at = html.IndexOf("</head>", StringComparison.OrdinalIgnoreCase);
            if (at < 0) at = html.IndexOf("</body>", StringComparison.OrdinalIgnoreCase);
            html = at < 0 ? script + html : html.Insert(at, script);
            return new Canvas(new PhysicalFileProvider(root), Encoding.UTF8.GetBytes(html));
        }

        public Task WriteIndex(HttpContext http)
        {
            http.Response.StatusCode = StatusCodes.Status200OK;
            http.Response.ContentType = "text/html; charset=utf-8";
            // The page may carry a key: never cached.
            http.Response.Headers[HeaderNames.CacheControl] = "no-store";
            return HttpMethods.IsHead(http.Request.Method) ? Task.CompletedTask : http.Response.Body.WriteAsync(index).AsTask();
        }
    }
}
