using System.Net;
using Akka.Sync.Gateway.Tests.Support;
using Xunit;

namespace Akka.Sync.Gateway.Tests.AgentServer;

/// <summary>
/// The browser clients: the inspector at <c>/inspector/</c>, and an Agent Canvas build from <c>Web:CanvasPath</c> at
/// <c>/</c>, with the script that tells it which key to use, on every one of its own routes; CORS for a canvas on
/// another origin by configuration only.
/// </summary>
public sealed class WebClientsTests : IDisposable
{
    private const string Key = "server-key-for-web";
    private readonly string _canvas;

    public WebClientsTests()
    {
        // A stand-in build with the shape of the real one: index.html with a head, hashed assets under /assets.
        _canvas = SyncServer.NewDataDirectory();
        File.WriteAllText(Path.Combine(_canvas, "index.html"), "<!DOCTYPE html><html><head><title>canvas</title></head><body>stand-in</body></html>");
        Directory.CreateDirectory(Path.Combine(_canvas, "assets"));
        File.WriteAllText(Path.Combine(_canvas, "assets", "entry-1234.js"), "console.log('canvas');");
        File.WriteAllText(Path.Combine(_canvas, "favicon.svg"), "<svg/>");
    }

    public void Dispose() => SyncServer.TryDelete(_canvas);

    private static HttpClient NoRedirects(SyncServer server) =>
        new(new HttpClientHandler { AllowAutoRedirect = false }) { BaseAddress = server.BaseUri };

    [Fact]
    public async Task Without_a_canvas_the_root_leads_to_the_inspector()
    {
        await using var server = await SyncServer.StartAsync();
        using var http = NoRedirects(server);
        using var root = await http.GetAsync("/");
        Assert.Equal(HttpStatusCode.Redirect, root.StatusCode);
        Assert.Equal("/inspector/", root.Headers.Location?.OriginalString);
        var page = await http.GetStringAsync("/inspector/");
        Assert.Contains("inspector.js", page);
        Assert.Equal(404, (int)(await http.GetAsync("/conversations/abc")).StatusCode);
    }

    [Fact]
    public async Task The_canvas_is_served_at_the_root_and_on_each_of_its_routes_with_the_key_script_and_never_cached()
    {
        await using var server = await SyncServer.StartAsync(new Dictionary<string, string?> { ["Web:CanvasPath"] = _canvas });
        using var http = NoRedirects(server);
        foreach (var path in new[] { "/", "/conversations/0123abc", "/settings/llm", "/index.html" })
        {
            using var response = await http.GetAsync(path);
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            Assert.Equal("no-store", response.Headers.CacheControl?.ToString());
            var html = await response.Content.ReadAsStringAsync();
            // An open server: any key opens it, but the canvas makes its default backend only when handed one.
            Assert.Contains("<script>window.__AGENT_CANVAS_SESSION_API_KEY__=\"open\";window.__AGENT_CANVAS_DO_NOT_TRACK__=true;</script></head>", html);
            Assert.Contains("stand-in", html);
        }
        using var asset = await http.GetAsync("/assets/entry-1234.js");
        Assert.Equal(HttpStatusCode.OK, asset.StatusCode);
        Assert.Contains("javascript", asset.Content.Headers.ContentType?.MediaType);
        Assert.Contains("immutable", asset.Headers.CacheControl?.ToString());
        Assert.Equal(HttpStatusCode.OK, (await http.GetAsync("/favicon.svg")).StatusCode);
        // A missing file and an API path stay JSON 404s, never the page; the inspector keeps its own path.
        Assert.Equal(HttpStatusCode.NotFound, (await http.GetAsync("/assets/missing-5678.js")).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await http.GetAsync("/api/nothing")).StatusCode);
        Assert.Contains("inspector.js", await http.GetStringAsync("/inspector/"));
    }

    [Fact]
    public async Task On_a_server_with_keys_the_page_gets_the_configured_key_or_asks_its_user_for_one()
    {
        await using (var handed = await SyncServer.StartAsync(new Dictionary<string, string?>
        {
            ["Web:CanvasPath"] = _canvas, ["Auth:SessionApiKeys:0"] = Key, ["Web:CanvasSessionApiKey"] = Key,
        }))
        {
            Assert.Contains($"__AGENT_CANVAS_SESSION_API_KEY__=\"{Key}\"", await handed.Http.GetStringAsync("/"));
        }
        await using var asking = await SyncServer.StartAsync(new Dictionary<string, string?>
        {
            ["Web:CanvasPath"] = _canvas, ["Auth:SessionApiKeys:0"] = Key,
        });
        var html = await asking.Http.GetStringAsync("/conversations/x");
        Assert.Contains("__AGENT_CANVAS_AUTH_REQUIRED__=true", html);
        Assert.DoesNotContain("SESSION_API_KEY__", html);
        Assert.DoesNotContain(Key, html);
    }

    [Fact]
    public async Task A_key_in_the_page_cannot_break_out_of_its_script()
    {
        const string nasty = "k</script><script>alert(1)</script>\"";
        await using var server = await SyncServer.StartAsync(new Dictionary<string, string?>
        {
            ["Web:CanvasPath"] = _canvas, ["Auth:SessionApiKeys:0"] = nasty, ["Web:CanvasSessionApiKey"] = nasty,
        });
        var html = await server.Http.GetStringAsync("/");
        Assert.DoesNotContain("</script><script>alert", html);
        Assert.Equal(1, html.Split("</script>").Length - 1);
    }

    [Fact]
    public async Task A_canvas_path_without_a_build_or_a_canvas_key_that_is_not_a_server_key_stops_start_up()
    {
        var empty = SyncServer.NewDataDirectory();
        try
        {
            var e = await Assert.ThrowsAsync<InvalidOperationException>(() =>
                SyncServer.StartAsync(new Dictionary<string, string?> { ["Web:CanvasPath"] = empty }));
            Assert.Contains("Web:CanvasPath", e.Message);
            e = await Assert.ThrowsAsync<InvalidOperationException>(() => SyncServer.StartAsync(new Dictionary<string, string?>
            {
                ["Web:CanvasPath"] = _canvas, ["Auth:SessionApiKeys:0"] = Key, ["Web:CanvasSessionApiKey"] = "another",
            }));
            Assert.Contains("Web:CanvasSessionApiKey", e.Message);
        }
        finally
        {
            SyncServer.TryDelete(empty);
        }
    }

    [Fact]
    public async Task Cors_lets_a_configured_origin_call_with_credentials_and_no_other()
    {
        const string allowed = "http://canvas.example:3000";
        await using var server = await SyncServer.StartAsync(new Dictionary<string, string?>
        {
            ["Cors:AllowLoopbackOrigins"] = "false", ["Cors:AllowedOrigins:0"] = allowed,
        });
        async Task<HttpResponseMessage> Preflight(string origin)
        {
            var request = new HttpRequestMessage(HttpMethod.Options, "/api/auth/workspace-session");
            request.Headers.Add("Origin", origin);
            request.Headers.Add("Access-Control-Request-Method", "POST");
            request.Headers.Add("Access-Control-Request-Headers", "content-type,x-session-api-key");
            return await server.Http.SendAsync(request);
        }
        using var ok = await Preflight(allowed);
        Assert.Equal(allowed, ok.Headers.GetValues("Access-Control-Allow-Origin").Single());
        Assert.Equal("true", ok.Headers.GetValues("Access-Control-Allow-Credentials").Single());
        Assert.Contains("x-session-api-key", string.Join(',', ok.Headers.GetValues("Access-Control-Allow-Headers")), StringComparison.OrdinalIgnoreCase);
        using var refused = await Preflight("http://127.0.0.1:4000");
        Assert.False(refused.Headers.Contains("Access-Control-Allow-Origin"));
    }
}
