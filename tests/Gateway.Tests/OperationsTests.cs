using System.Net.Http.Headers;
using System.Text.Json;
using Akka.Sync.Gateway.Tests.Support;
using Xunit;

namespace Akka.Sync.Gateway.Tests;

/// <summary>Issue 7 surfaces: Prometheus metrics, the OpenAPI document, CORS.</summary>
[Collection(StressCollection.Name)] // process-wide figures (metrics, heap): not beside other servers
public sealed class OperationsTests
{
    [Fact]
    public async Task Metrics_are_exposed_for_prometheus_and_move_with_traffic()
    {
        await using var server = await SyncServer.StartAsync(new Dictionary<string, string?> { ["Auth:SessionApiKeys:0"] = "k" });
        var id = (await server.CreateConversationAsync(key: "k")).GetProperty("id").GetString()!;
        await server.IngestAsync(id, [SyncServer.Message("a"), SyncServer.Message("b")], key: "k");
        await using (var socket = await TestSocket.ConnectAsync(server.SocketUri(id, "resend_all=true&session_api_key=k")))
        {
            await socket.ReceiveJsonAsync();
            await socket.ReceiveJsonAsync();
            await socket.ReceiveJsonAsync();
        }
        Assert.Equal(401, (await server.GetAsync($"/api/conversations/{id}", "wrong")).Status);

        var text = await server.Http.GetStringAsync("/metrics");

        Assert.True(Value(text, "akka_sync_events_appended_total") >= 2, text);
        Assert.True(Value(text, "akka_sync_frames_sent_total") >= 3, text);
        Assert.True(Value(text, "akka_sync_auth_failures_total") >= 1, text);
        Assert.True(Value(text, "akka_sync_journal_write_latency_seconds_count") >= 2, text);
        Assert.True(Value(text, "akka_sync_replay_duration_seconds_count") >= 1, text);
        Assert.True(Value(text, "akka_sync_conversations_active") >= 1, text);
        Assert.Contains("akka_sync_sockets_open", text);
        Assert.True(Value(text, "akka_sync_cluster_members", "status=\"up\"") >= 1, text);
    }

    /// <summary>
    /// Frames are added to <c>akka_sync_frames_sent_total</c> by the node's once-a-second sweep, not per frame (a fan-out's
    /// CPU; bench/NOTES.md, "Issue 15, eleventh sitting"): a socket that stays open has its frames counted within the
    /// sweep's second all the same. Fails if they were counted only when the socket closes.
    /// </summary>
    [Fact]
    public async Task The_frames_sent_metric_counts_an_open_sockets_frames_within_a_second_or_so()
    {
        await using var server = await SyncServer.StartAsync();
        var id = await server.NewConversationAsync();
        await server.IngestAsync(id, [SyncServer.Message("a"), SyncServer.Message("b")]);
        var before = Value(await server.Http.GetStringAsync("/metrics"), "akka_sync_frames_sent_total", "dialect=\"v1\"");

        await using var socket = await TestSocket.ConnectAsync(server.SocketUri(id, "resend_all=true"));
        for (var i = 0; i < 3; i++) await socket.ReceiveJsonAsync(); // the state and both events; the socket stays open
        double after = before;
        for (var i = 0; i < 100 && after < before + 3; i++) // bounded: the sweep runs every second
        {
            await Task.Delay(100);
            after = Value(await server.Http.GetStringAsync("/metrics"), "akka_sync_frames_sent_total", "dialect=\"v1\"");
        }
        Assert.True(after >= before + 3, $"frames sent {before} -> {after}");
    }

    /// <summary>Sums the samples of a metric (optionally only those whose labels contain a fragment).</summary>
    private static double Value(string exposition, string metric, string? labelFragment = null) =>
        exposition.Split('\n')
            .Where(l => l.StartsWith(metric + "{", StringComparison.Ordinal) || l.StartsWith(metric + " ", StringComparison.Ordinal))
            .Where(l => labelFragment is null || l.Contains(labelFragment))
            .Select(l => double.Parse(l.TrimEnd().Split(' ')[^1], System.Globalization.CultureInfo.InvariantCulture))
            .DefaultIfEmpty(-1)
            .Sum();

    [Fact]
    public async Task The_openapi_document_lists_every_rest_route_of_the_contract()
    {
        await using var server = await SyncServer.StartAsync();
        var (status, doc) = await server.GetAsync("/openapi/v1.json");
        Assert.Equal(200, status);
        var paths = doc.GetProperty("paths");
        var expected = new (string Path, string Method)[]
        {
            ("/api/conversations", "post"),
            ("/api/conversations/search", "get"),
            ("/api/conversations/count", "get"),
            ("/api/conversations/{conversationId}", "get"),
            ("/api/conversations/{conversationId}", "delete"),
            ("/api/conversations/{conversationId}", "patch"),
            ("/api/conversations/{conversationId}/run", "post"),
            ("/api/conversations/{conversationId}/pause", "post"),
            ("/api/conversations/{conversationId}/events/search", "get"),
            ("/api/conversations/{conversationId}/events/count", "get"),
            ("/api/conversations/{conversationId}/events/{eventId}", "get"),
            ("/api/conversations/{conversationId}/events", "post"),
            ("/api/conversations/{conversationId}/events/respond_to_confirmation", "post"),
            ("/api/conversations/{conversationId}/agent/events", "post"),
            ("/api/v1/events/count", "get"),
        };
        foreach (var (path, method) in expected)
        {
            Assert.True(paths.TryGetProperty(path, out var item), $"{path} missing from {string.Join(", ", paths.EnumerateObject().Select(p => p.Name))}");
            Assert.True(item.TryGetProperty(method, out _), $"{method.ToUpperInvariant()} {path} missing");
        }
    }

    [Fact]
    public async Task Cors_is_closed_by_default_and_opens_for_configured_origins()
    {
        await using var closed = await SyncServer.StartAsync(new Dictionary<string, string?> { ["Cors:AllowLoopbackOrigins"] = "false" });
        Assert.Null(await AllowedOrigin(closed, "http://localhost:3001"));

        await using var open = await SyncServer.StartAsync(new Dictionary<string, string?>
        {
            ["Cors:AllowLoopbackOrigins"] = "false",
            ["Cors:AllowedOrigins:0"] = "https://app.example.com",
        });
        Assert.Equal("https://app.example.com", await AllowedOrigin(open, "https://app.example.com"));
        Assert.Null(await AllowedOrigin(open, "https://evil.example.com"));
    }

    [Fact]
    public async Task The_embedded_default_allows_loopback_origins_only()
    {
        await using var server = await SyncServer.StartAsync(); // appsettings.json: AllowLoopbackOrigins=true
        Assert.Equal("http://localhost:3001", await AllowedOrigin(server, "http://localhost:3001"));
        Assert.Equal("http://127.0.0.1:3000", await AllowedOrigin(server, "http://127.0.0.1:3000"));
        Assert.Null(await AllowedOrigin(server, "https://example.com"));
    }

    /// <summary>A browser preflight for a keyed POST; returns the Access-Control-Allow-Origin answer.</summary>
    private static async Task<string?> AllowedOrigin(SyncServer server, string origin)
    {
        using var request = new HttpRequestMessage(HttpMethod.Options, "/api/conversations/0b6a4b0e3f1a4c1e9a596c1f0d7e2b11/pause");
        request.Headers.Add("Origin", origin);
        request.Headers.Add("Access-Control-Request-Method", "POST");
        request.Headers.Add("Access-Control-Request-Headers", "x-session-api-key,content-type");
        using var response = await server.Http.SendAsync(request);
        return response.Headers.TryGetValues("Access-Control-Allow-Origin", out var values) ? values.Single() : null;
    }
}
