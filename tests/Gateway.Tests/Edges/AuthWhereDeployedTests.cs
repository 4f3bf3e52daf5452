using Akka.Sync.Gateway.Auth;
using Akka.Sync.Gateway.Tests.Support;
using Microsoft.AspNetCore.Http;
using Xunit;

namespace Akka.Sync.Gateway.Tests.Edges;

/// <summary>
/// CONTRACT §8 where the server is deployed: keys stay out of the log under any spelling of their parameter, the
/// failed-auth lockout follows the real client behind configured proxies only, and every gauge is on /metrics from
/// the start.
/// </summary>
[Collection(StressCollection.Name)] // process-wide figures (metrics, heap): not beside other servers
public sealed class AuthWhereDeployedTests
{
    private const string Key = "deployed-server-key";

    [Theory]
    [InlineData("session_api_key")]
    [InlineData("session%5Fapi%5Fkey")]
    [InlineData("SESSION_API_KEY")]
    [InlineData("%73ession_api_key")]
    public async Task A_key_under_any_spelling_of_its_parameter_opens_the_socket_and_never_reaches_the_log(string parameter)
    {
        var logs = new LogCapture();
        await using var server = await SyncServer.StartAsync(new Dictionary<string, string?> { ["Auth:SessionApiKeys:0"] = Key }, logs: logs);
        var id = (await server.CreateConversationAsync(key: Key)).GetProperty("id").GetString()!;

        // As written: .NET would otherwise canonicalise %5F to _ before sending.
        var raw = new UriCreationOptions { DangerousDisablePathAndQueryCanonicalization = true };
        await using (var socket = await TestSocket.ConnectAsync(new Uri(server.SocketUri(id).ToString() + $"?{parameter}={Key}&resend_all=true", raw)))
            Assert.Equal("full_state", (await socket.ReceiveJsonAsync()).GetProperty("key").GetString());
        // REST takes its key from the header only; a key in its query opens nothing, and is not logged either.
        using var response = await server.Http.GetAsync(new Uri($"{server.BaseUri}api/conversations/{id}/events/count?{parameter}={Key}", raw));
        Assert.Equal(401, (int)response.StatusCode);

        Assert.DoesNotContain(logs.Lines, l => l.Contains(Key));
        Assert.Contains(logs.Lines, l => l.Contains($"{parameter}=***"));
    }

    [Theory]
    [InlineData("/x", "?session%5Fapi%5Fkey=secret&b=2", "/x?session%5Fapi%5Fkey=***&b=2")]
    [InlineData("/x", "?a=1&Session_Api_Key=secret", "/x?a=1&Session_Api_Key=***")]
    [InlineData("/x", "?session_api_key", "/x?session_api_key")]
    [InlineData("/x", "?session_api_keys=kept", "/x?session_api_keys=kept")]
    [InlineData("/x", "?%zz=kept", "/x?%zz=kept")]
    [InlineData("/x", "", "/x")]
    public void The_log_mask_decodes_each_parameter_name(string path, string query, string logged) =>
        Assert.Equal(logged, ApiKeys.Mask(new PathString(path), new QueryString(query.Length == 0 ? null : query)));

    private static async Task<int> GetAs(SyncServer server, string forwardedFor, string key)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, "/api/conversations/count");
        request.Headers.Add("X-Forwarded-For", forwardedFor);
        request.Headers.Add("X-Session-API-Key", key);
        using var response = await server.Http.SendAsync(request);
        return (int)response.StatusCode;
    }

    [Fact]
    public async Task Behind_a_configured_proxy_one_clients_bad_guesses_lock_out_that_client_only()
    {
        await using var server = await SyncServer.StartAsync(new Dictionary<string, string?>
        {
            ["Auth:SessionApiKeys:0"] = Key, ["Limits:FailedAuthPerMinute"] = "3", ["ForwardedHeaders:KnownProxies:0"] = "127.0.0.1",
        });
        for (var i = 0; i < 3; i++) Assert.Equal(401, await GetAs(server, "203.0.113.7", "guess" + i));

        Assert.Equal(429, await GetAs(server, "203.0.113.7", Key));
        Assert.Equal(200, await GetAs(server, "198.51.100.20", Key));
    }

    [Fact]
    public async Task Without_a_configured_proxy_the_forwarded_header_is_not_believed()
    {
        await using var server = await SyncServer.StartAsync(new Dictionary<string, string?>
        {
            ["Auth:SessionApiKeys:0"] = Key, ["Limits:FailedAuthPerMinute"] = "3",
        });
        for (var i = 0; i < 3; i++) Assert.Equal(401, await GetAs(server, "203.0.113.7", "guess" + i));

        // A client cannot pick its own address: the lockout is the connection's (here the proxy's), whatever it claims.
        Assert.Equal(429, await GetAs(server, "198.51.100.20", Key));
    }

    [Theory]
    [InlineData("ForwardedHeaders:KnownProxies:0", "not-an-ip")]
    [InlineData("ForwardedHeaders:KnownNetworks:0", "10.0.0.0/99")]
    public async Task A_bad_proxy_setting_stops_start_up_with_a_clear_error(string setting, string value)
    {
        var e = await Assert.ThrowsAsync<InvalidOperationException>(() =>
            SyncServer.StartAsync(new Dictionary<string, string?> { [setting] = value }));
        Assert.Contains(setting.Split(':')[1], e.Message);
    }

    [Fact]
    public async Task Every_gauge_and_counter_is_on_the_scrape_at_zero_before_any_traffic()
    {
        await using var server = await SyncServer.StartAsync();
        var lines = (await server.Http.GetStringAsync("/metrics")).Split('\n');
        foreach (var (metric, label) in new[]
                 {
                     ("akka_sync_sockets_open", "dialect=\"v1\""), ("akka_sync_sockets_open", "dialect=\"v0\""),
                     ("akka_sync_conversations_active", ""), ("akka_sync_events_appended_total", "dialect=\"v1\""),
                     ("akka_sync_frames_sent_total", "dialect=\"v0\""), ("akka_sync_slow_consumer_closes_total", ""),
                     ("akka_sync_auth_failures_total", "surface=\"rest\""), ("akka_sync_auth_failures_total", "surface=\"socketio\""),
                 })
        {
            var line = lines.FirstOrDefault(l => l.StartsWith(metric + "{", StringComparison.Ordinal) && l.Contains(label));
            Assert.True(line is not null, $"{metric} {label} is not on the scrape");
            Assert.Equal("0", line!.TrimEnd().Split(' ')[^1]);
        }
    }
}
