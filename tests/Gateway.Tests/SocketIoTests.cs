using System.Text.Json;
using Akka.Sync.Gateway.Tests.Support;
using Xunit;
using Xunit.Abstractions;

namespace Akka.Sync.Gateway.Tests;

/// <summary>CONTRACT §5–6 with the real npm socket.io-client 4.8.1, configured as the OpenHands V0 frontend.</summary>
public sealed class SocketIoTests(ITestOutputHelper output) : IAsyncLifetime
{
    private SyncServer _server = null!;

    public async Task InitializeAsync() => _server = await SyncServer.StartAsync();

    public async Task DisposeAsync() => await _server.DisposeAsync();

    private async Task<string> NewV0Conversation() =>
        (await _server.CreateConversationAsync(new { protocol = "v0" })).GetProperty("id").GetString()!;

    private static object Action(string type, object args, string source = "agent") => new { action = type, source, args };

    private static object Observation(string type, string content = "", object? extras = null, string source = "environment") =>
        new { observation = type, source, content, extras = extras ?? new { } };

    private static string Type(JsonElement e) => e.GetProperty("type").GetString()!;

    [Fact]
    public async Task Connecting_replays_the_last_agent_state_then_acks_and_streams_live()
    {
        var id = await NewV0Conversation();
        await using var client = NodeSocketIoClient.Start(_server.BaseUri, id);

        var lines = await client.UntilAsync("connect");

        var replay = NodeSocketIoClient.Events(lines);
        var state = Assert.Single(replay); // loading was held back and replaced by the last state
        Assert.Equal(2, state.GetProperty("id").GetInt64());
        Assert.Equal("agent_state_changed", state.GetProperty("observation").GetString());
        Assert.Equal("awaiting_user_input", state.GetProperty("extras").GetProperty("agent_state").GetString());
        Assert.Equal("environment", state.GetProperty("source").GetString());
        Assert.Equal(["id", "timestamp", "source", "message", "observation", "content", "extras"], state.EnumerateObject().Select(p => p.Name));

        await _server.IngestAsync(id, [Action("message", new { content = "live from the agent", wait_for_response = true })]);
        var live = (await client.UntilAsync("event")).Last().GetProperty("data");
        Assert.Equal(3, live.GetProperty("id").GetInt64());
        Assert.Equal("live from the agent", live.GetProperty("message").GetString());
    }

    [Fact]
    public async Task A_user_message_is_stored_from_the_user_and_starts_the_agent()
    {
        var id = await NewV0Conversation();
        await using var client = NodeSocketIoClient.Start(_server.BaseUri, id);
        await client.UntilAsync("connect");

        await client.EmitAsync("oh_user_action", new { action = "message", args = new { content = "hello", image_urls = Array.Empty<string>(), file_urls = Array.Empty<string>(), timestamp = "2025-01-01T00:00:00" } });

        var events = NodeSocketIoClient.Events(await client.UntilAsync(l => Type(l) == "event" && l.GetProperty("data").TryGetProperty("observation", out _)));
        var message = events[0];
        Assert.Equal("message", message.GetProperty("action").GetString());
        Assert.Equal("user", message.GetProperty("source").GetString());
        Assert.Equal("hello", message.GetProperty("message").GetString());
        Assert.False(message.GetProperty("args").TryGetProperty("timestamp", out _));
        var running = events[1];
        Assert.Equal("running", running.GetProperty("extras").GetProperty("agent_state").GetString());
        Assert.Equal("agent", running.GetProperty("source").GetString()); // relabelled live, stored as environment
        var (_, stored) = await _server.GetAsync($"/api/conversations/{id}/events/search?kind=observation:agent_state_changed&sort_order=TIMESTAMP_DESC&limit=1");
        Assert.Equal("environment", stored.GetProperty("items")[0].GetProperty("source").GetString());
    }

    [Fact]
    public async Task Change_agent_state_round_trips_and_a_forbidden_request_gets_an_error_frame()
    {
        var id = await NewV0Conversation();
        await using var client = NodeSocketIoClient.Start(_server.BaseUri, id);
        await client.UntilAsync("connect");

        await client.EmitAsync("oh_user_action", new { action = "change_agent_state", args = new { agent_state = "paused" } });
        var events = NodeSocketIoClient.Events(await client.UntilAsync(l => Type(l) == "event" && l.GetProperty("data").TryGetProperty("observation", out _)));
        Assert.Equal("""{"agent_state":"paused","thought":""}""", events[0].GetProperty("args").GetRawText());
        Assert.Equal("Agent state changed to paused", events[0].GetProperty("message").GetString());
        Assert.Equal("paused", events[1].GetProperty("extras").GetProperty("agent_state").GetString());
        Assert.Equal("paused", (await _server.GetAsync($"/api/conversations/{id}")).Body.GetProperty("agent_state").GetString());

        await client.EmitAsync("oh_user_action", new { action = "change_agent_state", args = new { agent_state = "user_confirmed" } });
        var error = (await client.UntilAsync("event")).Last().GetProperty("data");
        Assert.True(error.GetProperty("error").GetBoolean());
        Assert.Contains("awaiting_user_confirmation", error.GetProperty("message").GetString());

        // The same state again appends nothing; the next event is what we ingest.
        await client.EmitAsync("oh_user_action", new { action = "change_agent_state", args = new { agent_state = "paused" } });
        var count = (await _server.GetAsync($"/api/conversations/{id}/events/count")).Body.GetInt64();
        var next = await _server.IngestAsync(id, [Action("message", new { content = "x" })]);
        Assert.Equal(count + 1, next[0].GetProperty("seq").GetInt64());
        Assert.Equal(count + 1, (await client.UntilAsync("event")).Last().GetProperty("data").GetProperty("id").GetInt64());
    }

    [Fact]
    public async Task An_emit_with_an_ack_callback_is_acknowledged_only_once_the_action_is_stored_or_with_its_refusal()
    {
        var id = await NewV0Conversation();
        await using var client = NodeSocketIoClient.Start(_server.BaseUri, id);
        await client.UntilAsync("connect");
        var before = (await _server.GetAsync($"/api/conversations/{id}/events/count")).Body.GetInt64();

        // While the journal cannot write, the action is not durable: no ack may arrive.
        await using (var writer = new Microsoft.Data.Sqlite.SqliteConnection($"Data Source={Path.Combine(_server.DataDirectory, "akka-sync.db")}"))
        {
            await writer.OpenAsync();
            await using (var hold = writer.CreateCommand())
            {
                hold.CommandText = "BEGIN IMMEDIATE";
                await hold.ExecuteNonQueryAsync();
            }
            await client.EmitWithAckAsync("oh_user_action", new { action = "message", args = new { content = "ack me" } }, "message");
            var early = await Record.ExceptionAsync(() => client.UntilAsync("ack", TimeSpan.FromSeconds(2)));
            Assert.True(early is TimeoutException or OperationCanceledException, $"an ack (or something else) arrived while the write was held: {early}");
            await using var release = writer.CreateCommand();
            release.CommandText = "ROLLBACK";
            await release.ExecuteNonQueryAsync();
        }
        var ack = (await client.UntilAsync("ack")).Last();
        Assert.Equal("message", ack.GetProperty("label").GetString());
        Assert.Equal(0, ack.GetProperty("args").GetArrayLength());
        var (_, stored) = await _server.GetAsync($"/api/conversations/{id}/events/search?kind=action:message&source=user");
        Assert.Equal("ack me", Assert.Single(stored.GetProperty("items").EnumerateArray()).GetProperty("message").GetString());

        // A refused action is acknowledged with the refusal, and nothing is stored.
        var count = (await _server.GetAsync($"/api/conversations/{id}/events/count")).Body.GetInt64();
        Assert.True(count > before);
        await client.EmitWithAckAsync("oh_user_action", new { action = "change_agent_state", args = new { agent_state = "user_confirmed" } }, "refused");
        var refused = (await client.UntilAsync(l => Type(l) == "ack")).Last();
        Assert.Equal("refused", refused.GetProperty("label").GetString());
        Assert.True(refused.GetProperty("args")[0].GetProperty("error").GetBoolean());
        Assert.Contains("awaiting_user_confirmation", refused.GetProperty("args")[0].GetProperty("message").GetString());
        await client.EmitWithAckAsync("what_is_this", new { }, "unknown");
        var unknown = (await client.UntilAsync(l => Type(l) == "ack")).Last();
        Assert.Contains("unknown event", unknown.GetProperty("args")[0].GetProperty("message").GetString());
        Assert.Equal(count, (await _server.GetAsync($"/api/conversations/{id}/events/count")).Body.GetInt64());
    }

    [Fact]
    public async Task A_bad_payload_gets_an_error_frame_and_the_socket_stays_open()
    {
        var id = await NewV0Conversation();
        await using var client = NodeSocketIoClient.Start(_server.BaseUri, id);
        await client.UntilAsync("connect");

        await client.EmitAsync("oh_user_action", new { nonsense = true });
        var error = (await client.UntilAsync("event")).Last().GetProperty("data");
        Assert.True(error.GetProperty("error").GetBoolean());
        Assert.Contains("action or observation", error.GetProperty("message").GetString());
        await client.EmitAsync("oh_unknown", new { });
        Assert.Contains("unknown event", (await client.UntilAsync("event")).Last().GetProperty("data").GetProperty("message").GetString());

        await client.EmitAsync("oh_action", new { action = "message", args = new { content = "legacy name still works" } });
        var stored = (await client.UntilAsync(l => Type(l) == "event" && l.GetProperty("data").TryGetProperty("action", out _))).Last();
        Assert.Equal("legacy name still works", stored.GetProperty("data").GetProperty("message").GetString());
    }

    [Fact]
    public async Task Replay_skips_null_and_recall_events_and_sends_only_the_last_agent_state_last()
    {
        var id = await NewV0Conversation();
        await _server.IngestAsync(id,
        [
            Action("null", new { }),
            Action("recall", new { query = "q" }),
            Observation("agent_state_changed", extras: new { agent_state = "running", reason = "" }),
            Action("run", new { command = "ls" }),
            Observation("null"),
            Observation("run", "files", new { command = "ls" }),
            Observation("agent_state_changed", extras: new { agent_state = "finished", reason = "" }),
            Action("message", new { content = "done" }),
        ]);
        await using var client = NodeSocketIoClient.Start(_server.BaseUri, id);

        var replay = NodeSocketIoClient.Events(await client.UntilAsync("connect"));

        Assert.Equal([6L, 8L, 10L, 9L], replay.Select(e => e.GetProperty("id").GetInt64()));
        Assert.Equal("finished", replay[^1].GetProperty("extras").GetProperty("agent_state").GetString());
        Assert.Equal("environment", replay[1].GetProperty("source").GetString()); // replay keeps the stored source
    }

    [Fact]
    public async Task Reconnecting_with_latest_event_id_delivers_exactly_the_events_after_it()
    {
        var id = await NewV0Conversation();
        var stored = await _server.IngestAsync(id, Enumerable.Range(0, 10).Select(i => Action("message", new { content = $"m{i}" })).ToArray());
        Assert.Equal(Enumerable.Range(3, 10).Select(i => (long)i), stored.Select(s => s.GetProperty("id").GetInt64()));

        await using var client = NodeSocketIoClient.Start(_server.BaseUri, id, latestEventId: 7);
        var replay = NodeSocketIoClient.Events(await client.UntilAsync("connect"));

        Assert.Equal([8L, 9L, 10L, 11L, 12L], replay.Select(e => e.GetProperty("id").GetInt64()));
        await using var beyond = NodeSocketIoClient.Start(_server.BaseUri, id, latestEventId: 12);
        Assert.Empty(NodeSocketIoClient.Events(await beyond.UntilAsync("connect")));
    }

    [Fact]
    public async Task A_latest_event_id_that_is_not_an_integer_counts_as_minus_one()
    {
        var id = await NewV0Conversation();
        await _server.IngestAsync(id, [Action("message", new { content = "m" })]);
        await using var client = NodeSocketIoClient.Start(_server.BaseUri, id, extraQuery: new Dictionary<string, object?> { ["latest_event_id"] = "abc" });
        var replay = NodeSocketIoClient.Events(await client.UntilAsync("connect"));
        Assert.Equal([3L, 2L], replay.Select(e => e.GetProperty("id").GetInt64()));
    }

    [Fact]
    public async Task Refusals_arrive_as_connect_error_with_the_exact_text()
    {
        var v1 = await _server.NewConversationAsync();
        await using (var client = NodeSocketIoClient.Start(_server.BaseUri, ""))
            Assert.Equal("No conversation_id in query params", (await client.UntilAsync("connect_error")).Last().GetProperty("message").GetString());
        await using (var client = NodeSocketIoClient.Start(_server.BaseUri, v1))
            Assert.Equal("wrong protocol: conversation is v1", (await client.UntilAsync("connect_error")).Last().GetProperty("message").GetString());
        await using (var client = NodeSocketIoClient.Start(_server.BaseUri, Guid.NewGuid().ToString("N")))
            Assert.Equal("Conversation not found", (await client.UntilAsync("connect_error")).Last().GetProperty("message").GetString());
    }

    [Fact]
    public async Task A_v1_socket_to_a_v0_conversation_is_refused_with_4004()
    {
        var id = await NewV0Conversation();
        await using var socket = await TestSocket.ConnectAsync(_server.SocketUri(id));
        Assert.Empty(await socket.ReadUntilClosedAsync());
        Assert.Equal(4004, (int)socket.CloseStatus!);
        Assert.Equal("wrong protocol: conversation is v0", socket.CloseDescription);
    }

    [Theory]
    [InlineData("/socket.io/?EIO=4&transport=polling", 0)]
    [InlineData("/socket.io/?EIO=3&transport=websocket", 5)]
    [InlineData("/socket.io/?EIO=4&transport=websocket", 3)]
    public async Task Polling_old_protocols_and_plain_http_are_refused_with_a_400_json_error(string path, int code)
    {
        var (status, body) = await _server.GetAsync(path);
        Assert.Equal(400, status);
        Assert.Equal(code, body.GetProperty("code").GetInt32());
        Assert.False(string.IsNullOrEmpty(body.GetProperty("message").GetString()));
    }

    [Fact]
    public async Task V0_ingest_validates_events_and_refuses_the_other_dialect()
    {
        var v0 = await NewV0Conversation();
        var v1 = await _server.NewConversationAsync();
        var (bad, error) = await _server.SendAsync(HttpMethod.Post, $"/api/conversations/{v0}/agent/events", new[] { new { action = "message", source = "agent", args = new { } } });
        Assert.Equal(400, bad);
        Assert.Contains("args.content", error.GetProperty("detail").GetString());
        var (wrong, wrongError) = await _server.SendAsync(HttpMethod.Post, $"/api/conversations/{v0}/agent/events", new[] { SyncServer.Message("v1 event") });
        Assert.Equal(400, wrong);
        Assert.Contains("wrong protocol: conversation is v0", wrongError.GetProperty("detail").GetString());
        Assert.Equal(400, (await _server.SendAsync(HttpMethod.Post, $"/api/conversations/{v1}/agent/events", new[] { Action("message", new { content = "x" }) })).Status);
        Assert.Equal(400, (await _server.SendAsync(HttpMethod.Post, $"/api/conversations/{v0}/run", new { })).Status);
        var ok = await _server.IngestAsync(v0, [Observation("agent_state_changed", extras: new { agent_state = "error", reason = "boom" })]);
        Assert.Equal(3, ok[0].GetProperty("id").GetInt64());
        Assert.Equal("error", (await _server.GetAsync($"/api/conversations/{v0}")).Body.GetProperty("agent_state").GetString());
    }

    [Fact, Trait("Category", "Stress")]
    public async Task Fifty_clients_each_get_every_one_of_5000_events_once_in_order_and_leave_nothing_behind()
    {
        var id = await NewV0Conversation();
        var baseline = await ResourceBaseline.CaptureAsync(_server, output);
        const int clients = 50, total = 5000;
        var psi = new System.Diagnostics.ProcessStartInfo("node") { WorkingDirectory = NodeSocketIoClient.CompatDirectory, RedirectStandardOutput = true, UseShellExecute = false };
        foreach (var a in new[] { "v0-soak.js", _server.BaseUri.ToString().TrimEnd('/'), id, $"{clients}", $"{total}", "110000" }) psi.ArgumentList.Add(a);
        using var soak = System.Diagnostics.Process.Start(psi)!;
        try
        {
            Assert.Equal("""{"ready":true}""", await soak.StandardOutput.ReadLineAsync());
            for (var b = 0; b < total / 100; b++)
                await _server.IngestAsync(id, Enumerable.Range(0, 100).Select(i => Action("message", new { content = $"{b}.{i}" })).ToArray());

            var summary = JsonDocument.Parse((await soak.StandardOutput.ReadLineAsync())!).RootElement;
            Assert.Equal(clients, summary.GetProperty("clients").GetArrayLength());
            foreach (var c in summary.GetProperty("clients").EnumerateArray())
            {
                Assert.Equal(total, c.GetProperty("count").GetInt32());
                Assert.True(c.GetProperty("inOrder").GetBoolean());
                Assert.Equal(0, c.GetProperty("duplicates").GetInt32());
            }
            Assert.True(summary.GetProperty("ok").GetBoolean());
        }
        finally
        {
            if (!soak.HasExited) soak.Kill(entireProcessTree: true);
        }
        // Every Socket.IO session let go of its slot, its pump and its connection actor.
        using var exited = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        await soak.WaitForExitAsync(exited.Token);
        await baseline.AssertReturnedAsync(processWide: false);
    }
}
