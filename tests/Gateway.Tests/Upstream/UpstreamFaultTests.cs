using System.Text.Json;
using System.Text.Json.Nodes;
using Akka.Sync.Gateway.Tests.Support;
using Xunit;
using Xunit.Abstractions;
using static Akka.Sync.Gateway.Tests.Support.Following;

namespace Akka.Sync.Gateway.Tests.Upstream;

/// <summary>
/// A conversation following a scripted agent server (<see cref="ScriptedUpstream"/>) through the faults a real one
/// has: sockets dropped in the middle of a replay, replays that repeat and overlap what was stored, a restart, 5xx
/// answers, a key that stops working. Whatever happens, the conversation ends holding the upstream's log exactly:
/// every event once, in upstream order, with its upstream id and fields; its viewers see no gap and no duplicate.
/// </summary>
public sealed class UpstreamFaultTests(ITestOutputHelper output)
{
    [Fact]
    public async Task Sockets_dropped_mid_replay_and_repeated_overlapping_replays_store_every_event_once_in_upstream_order()
    {
        await using var upstream = await ScriptedUpstream.StartAsync();
        upstream.Append(300);
        // Every socket re-sends the whole log first (and is dropped 120 frames into it, three times); every search starts
        // 25 events before the time asked for.
        upstream.ReplayOnConnect = true;
        upstream.OverlapSearches = true;
        upstream.DropAfterFrames = 120;
        upstream.DropSockets = 3;
        await using var front = await SyncServer.StartAsync(FastLink());
        var id = (await BindAsync(front, upstream.Url, upstream.ConversationId)).GetProperty("id").GetString()!;
        await using var viewer = await TestSocket.ConnectAsync(front.SocketUri(id, "resend_all=true"));
        Assert.Equal("full_state", (await viewer.ReceiveJsonAsync()).GetProperty("key").GetString());

        await WaitForCountAsync(front, id, 300);
        upstream.Append(200); // live, while the last sockets may still be replaying
        await WaitForCountAsync(front, id, 500);

        var stored = await AllEventsAsync(front, id);
        AssertSameLog(upstream.Log, stored);
        var seen = new List<string>();
        for (var i = 0; i < stored.Count; i++) seen.Add((await viewer.ReceiveJsonAsync()).Id());
        Assert.Equal(stored.Select(e => e.Id()), seen);
        var link = (await WaitForLinkAsync(front, id, l => l.GetProperty("state").GetString() == "live", "live")).GetProperty("upstream");
        Assert.True(link.GetProperty("reconnects").GetInt64() >= 3, link.ToString());
        Assert.True(upstream.Connections >= 4);
        output.WriteLine($"{stored.Count} events stored once each after {upstream.Connections} upstream sockets " +
                         $"({link.GetProperty("reconnects")} reconnects) and {upstream.Searches} searches; the viewer got each once, in order");
    }

    [Fact]
    public async Task An_upstream_restart_and_its_5xx_answers_are_retried_with_backoff_and_lose_nothing()
    {
        await using var upstream = await ScriptedUpstream.StartAsync();
        upstream.Append(100);
        await using var front = await SyncServer.StartAsync(FastLink());
        var id = (await BindAsync(front, upstream.Url, upstream.ConversationId)).GetProperty("id").GetString()!;
        await using var viewer = await TestSocket.ConnectAsync(front.SocketUri(id, "resend_all=true"));
        await viewer.ReceiveJsonAsync();
        await WaitForCountAsync(front, id, 100);

        await upstream.StopAsync();
        // Between its attempts (each one is refused at once) the link waits in backoff, not connected, its lag growing.
        var down = await WaitForLinkAsync(front, id, l => l.GetProperty("state").GetString() == "backoff" && l.GetProperty("lag_seconds").GetDouble() > 0, "the link down");
        output.WriteLine("while the upstream is down: " + down.GetProperty("upstream"));
        Assert.False(down.GetProperty("upstream").GetProperty("connected").GetBoolean());
        Assert.NotEqual(JsonValueKind.Null, down.GetProperty("upstream").GetProperty("last_error").ValueKind);
        upstream.Append(50); // the agent went on while the server was away (its log is on disk)
        upstream.FailSearches = 3;
        await upstream.RestartAsync();
        await WaitForCountAsync(front, id, 150);
        upstream.Append(10);
        await WaitForCountAsync(front, id, 160);

        var stored = await AllEventsAsync(front, id);
        AssertSameLog(upstream.Log, stored);
        var seen = new List<string>();
        for (var i = 0; i < stored.Count; i++) seen.Add((await viewer.ReceiveJsonAsync()).Id());
        Assert.Equal(stored.Select(e => e.Id()), seen);
        var link = (await WaitForLinkAsync(front, id, l => l.GetProperty("state").GetString() == "live", "live")).GetProperty("upstream");
        Assert.True(link.GetProperty("reconnects").GetInt64() >= 4, link.ToString()); // the stop, then three 500s
        Assert.Equal(0, link.GetProperty("lag_events").GetInt64());
        var metrics = await front.Http.GetStringAsync("/metrics");
        Assert.Matches(@"akka_sync_upstream_reconnects_total\{[^}]*\} [1-9]", metrics);
        output.WriteLine($"after the restart: {link}");
    }

    [Fact]
    public async Task An_upstream_key_that_stops_working_parks_the_link_until_a_new_key_is_bound()
    {
        var (oldKey, newKey) = (ApiKeysForTests.New(), ApiKeysForTests.New());
        await using var upstream = await ScriptedUpstream.StartAsync();
        upstream.Key = oldKey;
        upstream.Append(20);
        var logs = new LogCapture();
        await using var front = await SyncServer.StartAsync(FastLink(), logs: logs);
        var id = (await BindAsync(front, upstream.Url, upstream.ConversationId, oldKey)).GetProperty("id").GetString()!;
        await WaitForCountAsync(front, id, 20);

        upstream.Key = newKey; // rotated upstream; the sockets it had are dropped
        upstream.DropAll();
        var parked = await WaitForLinkAsync(front, id, l => l.GetProperty("state").GetString() == "unauthorized", "unauthorized");
        Assert.False(parked.GetProperty("upstream").GetProperty("connected").GetBoolean());
        var (status, refused) = await front.SendAsync(HttpMethod.Post, $"/api/conversations/{id}/events",
            new { role = "user", content = new[] { new { type = "text", text = "with the old key" } }, run = true });
        Assert.Equal(502, status);
        Assert.Contains("refused its session key", refused.GetProperty("detail").GetString());
        upstream.Append(5);

        // The same binding with the new key (a repeated create): the conversation keeps its log and follows on.
        var rebound = await BindAsync(front, upstream.Url, upstream.ConversationId, newKey, new { conversation_id = id });
        Assert.Equal(id, rebound.GetProperty("id").GetString());
        await WaitForCountAsync(front, id, 25);
        AssertSameLog(upstream.Log, await AllEventsAsync(front, id));
        await WaitForLinkAsync(front, id, l => l.GetProperty("state").GetString() == "live", "live with the new key");
        Assert.DoesNotContain(logs.Lines, l => l.Contains(oldKey) || l.Contains(newKey));
    }

    [Fact]
    public async Task Users_actions_reach_the_upstream_once_each_and_its_refusals_and_failures_map_to_the_contract()
    {
        await using var upstream = await ScriptedUpstream.StartAsync();
        await using var front = await SyncServer.StartAsync(FastLink(new() { ["Upstream:RequestTimeout"] = "00:00:01" }));
        var id = (await BindAsync(front, upstream.Url, upstream.ConversationId)).GetProperty("id").GetString()!;
        await WaitForLinkAsync(front, id, l => l.GetProperty("state").GetString() == "live", "live");

        async Task<(int, JsonElement)> Post(string route, object? body = null) => await front.SendAsync(HttpMethod.Post, $"/api/conversations/{id}/{route}", body);
        Assert.Equal(200, (await Post("events", new { role = "user", content = new[] { new { type = "text", text = "over REST" } }, run = true })).Item1);
        Assert.Equal(200, (await Post("run")).Item1);
        Assert.Equal(200, (await Post("pause")).Item1);
        Assert.Equal(200, (await Post("interrupt")).Item1);
        Assert.Equal(200, (await Post("events/respond_to_confirmation", new { accept = false, reason = "not that" })).Item1);
        await using (var socket = await TestSocket.ConnectAsync(front.SocketUri(id)))
        {
            await socket.ReceiveJsonAsync();
            await socket.SendTextAsync("""{"role":"user","content":[{"type":"text","text":"over the socket"}]}""");
            var deadline = DateTime.UtcNow.AddSeconds(15);
            while (upstream.Forwarded.Count < 6 && DateTime.UtcNow < deadline) await Task.Delay(20); // another server's state, bounded
        }
        Assert.Equal(new[]
        {
            """POST events {"role":"user","content":[{"cache_prompt":false,"type":"text","text":"over REST"}],"run":true}""",
            "POST run",
            "POST pause",
            "POST interrupt",
            """POST events/respond_to_confirmation {"accept":false,"reason":"not that"}""",
            """POST events {"role":"user","content":[{"cache_prompt":false,"type":"text","text":"over the socket"}],"run":true}""",
        }, upstream.Forwarded);

        foreach (var (upstreamStatus, ours) in new[] { (409, 409), (404, 404), (422, 400), (400, 400), (401, 502), (500, 502), (503, 502) })
        {
            upstream.ForwardStatus = upstreamStatus;
            var (status, body) = await Post("run");
            Assert.True(status == ours, $"upstream {upstreamStatus} -> {status} {body}");
            output.WriteLine($"upstream {upstreamStatus} -> {status} {body}");
        }
        upstream.ForwardStatus = 200;
        upstream.HoldForwards = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var (timedOut, why) = await Post("pause");
        upstream.HoldForwards.TrySetResult();
        Assert.Equal(504, timedOut);
        Assert.Contains("may or may not have been applied", why.GetProperty("detail").GetString());
        // Nothing is stored locally for a forwarded action: the log is the upstream's (empty here).
        Assert.Equal(0, (await front.GetAsync($"/api/conversations/{id}/events/count")).Body.GetInt64());
        var (ingest, _) = await front.SendAsync(HttpMethod.Post, $"/api/conversations/{id}/agent/events", new object[] { SyncServer.Message("x") });
        Assert.Equal(409, ingest);
    }
}

internal static class ApiKeysForTests
{
    public static string New() => Convert.ToHexString(System.Security.Cryptography.RandomNumberGenerator.GetBytes(24)).ToLowerInvariant();
}
