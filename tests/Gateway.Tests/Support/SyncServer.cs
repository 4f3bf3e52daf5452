using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Akka.Sync.Gateway;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Logging;

namespace Akka.Sync.Gateway.Tests.Support;

/// <summary>
/// A real server: the Gateway on Kestrel at 127.0.0.1:0 with its own one-node cluster and a SQLite file in
/// a temp directory of its own. Disposing stops it and deletes the directory (unless kept for a restart).
/// </summary>
public sealed class SyncServer : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly bool _ownsDirectory;

    public Uri BaseUri { get; }
    public HttpClient Http { get; }
    public string DataDirectory { get; }

    private SyncServer(WebApplication app, Uri baseUri, string dataDirectory, bool ownsDirectory)
    {
        _app = app;
        BaseUri = baseUri;
        DataDirectory = dataDirectory;
        _ownsDirectory = ownsDirectory;
        // A server configured with an HTTPS endpoint (Kestrel:Endpoints) presents a test's self-signed certificate on
        // loopback: the client takes it.
        Http = baseUri.Scheme == Uri.UriSchemeHttps
            ? new HttpClient(new HttpClientHandler { ServerCertificateCustomValidationCallback = HttpClientHandler.DangerousAcceptAnyServerCertificateValidator })
                { BaseAddress = baseUri, Timeout = TimeSpan.FromSeconds(30) }
            : new HttpClient { BaseAddress = baseUri, Timeout = TimeSpan.FromSeconds(30) };
    }

    public static string NewDataDirectory()
    {
        var dir = Path.Combine(Path.GetTempPath(), "akka-sync-tests", Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(dir);
        return dir;
    }

    /// <summary>Starts a server; settings override the test defaults (external agent, open, no delays).</summary>
    public static async Task<SyncServer> StartAsync(IDictionary<string, string?>? settings = null, string? dataDirectory = null,
        LogCapture? logs = null)
    {
        var ownsDirectory = dataDirectory is null;
        dataDirectory ??= NewDataDirectory();
        var config = new Dictionary<string, string?>
        {
            ["urls"] = "http://127.0.0.1:0",
            ["Persistence:DataDirectory"] = dataDirectory,
            ["Agent:Mode"] = "external",
            ["Agent:DemoStepDelay"] = "00:00:00",
            ["Logging:LogLevel:Default"] = "Warning",
            ["Logging:LogLevel:Akka.Sync"] = "Information",
        };
        if (settings is not null)
            foreach (var (k, v) in settings) config[k] = v;
        WebApplication? app = null;
        try
        {
            app = GatewayApp.Build([], c => c.AddInMemoryCollection(config),
                b => { if (logs is not null) b.Logging.AddProvider(logs); });
            await app.StartAsync();
        }
        catch
        {
            if (app is not null) await app.DisposeAsync();
            if (ownsDirectory) TryDelete(dataDirectory);
            throw;
        }
        var address = app.Urls.Single(u => u.StartsWith("http://127.0.0.1:", StringComparison.Ordinal)
                                           || u.StartsWith("https://127.0.0.1:", StringComparison.Ordinal));
        var server = new SyncServer(app, new Uri(address), dataDirectory, ownsDirectory);
        await server.WaitReadyAsync();
        return server;
    }

    /// <summary>Polls /ready until the cluster member is up and the journal answers (bounded).</summary>
    private async Task WaitReadyAsync()
    {
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (DateTime.UtcNow < deadline)
        {
            var response = await Http.GetAsync("/ready");
            if (response.IsSuccessStatusCode) return;
            await Task.Delay(50);
        }
        throw new TimeoutException("server did not become ready in 30 s");
    }

    public Uri SocketUri(string conversationId, string query = "") =>
        new($"ws://{BaseUri.Authority}/sockets/events/{conversationId}{(query.Length > 0 ? "?" + query : "")}");

    public IServiceProvider Services => _app.Services;

    // ---- REST helpers ----

    public async Task<JsonElement> CreateConversationAsync(object? body = null, string? key = null)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, "/api/conversations")
        {
            Content = JsonContent.Create(body ?? new { }),
        };
        if (key is not null) request.Headers.Add("X-Session-API-Key", key);
        using var response = await Http.SendAsync(request);
        var text = await response.Content.ReadAsStringAsync();
        if ((int)response.StatusCode is not (200 or 201)) throw new InvalidOperationException($"create: {(int)response.StatusCode} {text}");
        return JsonDocument.Parse(text).RootElement.Clone();
    }

    public async Task<string> NewConversationAsync() => (await CreateConversationAsync()).GetProperty("id").GetString()!;

    /// <summary>Ingests a batch through the agent API and returns the reply items.</summary>
    public async Task<JsonElement[]> IngestAsync(string conversationId, object[] events, string? key = null)
    {
        var (status, body) = await SendAsync(HttpMethod.Post, $"/api/conversations/{conversationId}/agent/events", events, key);
        if (status != 200) throw new InvalidOperationException($"ingest: {status} {body}");
        return body.GetProperty("items").EnumerateArray().ToArray();
    }

    public async Task<(int Status, JsonElement Body)> SendAsync(HttpMethod method, string path, object? body = null, string? key = null)
    {
        using var request = new HttpRequestMessage(method, path);
        if (body is string raw) request.Content = new StringContent(raw, Encoding.UTF8, "application/json");
        else if (body is not null) request.Content = JsonContent.Create(body);
        if (key is not null) request.Headers.Add("X-Session-API-Key", key);
        using var response = await Http.SendAsync(request);
        var text = await response.Content.ReadAsStringAsync();
        var json = text.Length == 0 ? default : JsonDocument.Parse(text).RootElement.Clone();
        return ((int)response.StatusCode, json);
    }

    public Task<(int Status, JsonElement Body)> GetAsync(string path, string? key = null) => SendAsync(HttpMethod.Get, path, null, key);

    public static object Message(string text, string source = "agent") => new
    {
        kind = "MessageEvent",
        source,
        llm_message = new { role = source == "user" ? "user" : "assistant", content = new[] { new { type = "text", text } } },
    };

    public async ValueTask DisposeAsync()
    {
        Http.Dispose();
        await _app.StopAsync();
        await _app.DisposeAsync();
        if (_ownsDirectory) TryDelete(DataDirectory);
    }

    public static void TryDelete(string dir)
    {
        try { Directory.Delete(dir, recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
    }
}
