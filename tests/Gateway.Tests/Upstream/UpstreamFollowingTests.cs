using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Akka.Sync.Gateway.Tests.Support;
using Xunit;
using Xunit.Abstractions;
using static Akka.Sync.Gateway.Tests.Support.Following;

namespace Akka.Sync.Gateway.Tests.Upstream;

/// <summary>
/// Akka.Sync in front of another Akka.Sync (its V1 surface is agent-server's): a front conversation follows the
/// upstream's through a restart of the upstream, users act through the front, and the upstream's key stays a secret.
/// </summary>
public sealed class UpstreamFollowingTests(ITestOutputHelper output)
{
    private static readonly string UpstreamKey = ApiKeysForTests.New();

    /// <summary>An upstream Akka.Sync that needs a key, on a data directory of the test's (it survives a restart).</summary>
    private static Task<SyncServer> StartUpstream(string dataDirectory, string mode = "external", int port = 0) =>
        SyncServer.StartAsync(new Dictionary<string, string?>
        {
            ["urls"] = $"http://127.0.0.1:{port}",
            ["Agent:Mode"] = mode,
            ["Auth:SessionApiKeys:0"] = UpstreamKey,
        }, dataDirectory);

    /// <summary>Events of every shape an agent sends, as an agent runtime ingests them upstream.</summary>
    private static object[] Batch(int from, int count) => Enumerable.Range(from, count).Select(i => (i % 4) switch
    {
        0 => SyncServer.Message($"m-{i}"),
        1 => (object)new { kind = "ActionEvent", source = "agent", thought = new[] { new { type = "text", text = $"t-{i}" } },
            action = new { kind = "TerminalAction", command = $"echo {i}" }, tool_name = "terminal", tool_call_id = $"call-{i}", llm_response_id = $"r-{i}" },
        2 => new { kind = "CondensationSummaryEvent", source = "environment", summary = $"s-{i}", nested = new { list = new[] { 1, 2, 3 }, none = (string?)null } },
        _ => new { kind = "ConversationStateUpdateEvent", source = "environment", key = "execution_status", value = i % 8 == 3 ? "running" : "finished" },
    }).ToArray();

    [Fact]
    public async Task An_Akka_Sync_upstream_is_followed_once_in_order_with_its_ids_fields_and_times_across_its_restart_with_no_gap_for_viewers()
    {
        var upstreamDir = SyncServer.NewDataDirectory();
        try
        {
            var upstream = await StartUpstream(upstreamDir);
            var port = upstream.BaseUri.Port;
            var uid = (await upstream.CreateConversationAsync(new { title = "upstream" }, UpstreamKey)).GetProperty("id").GetString()!;
            for (var b = 0; b < 2; b++) await upstream.IngestAsync(uid, Batch(b * 100, 100), UpstreamKey);

            await using var front = await SyncServer.StartAsync(FastLink());
            var created = await BindAsync(front, upstream.BaseUri.ToString(), uid, UpstreamKey);
            var id = created.GetProperty("id").GetString()!;
            Assert.Equal(uid, id); // the upstream's id unless the request names another
            Assert.Equal("upstream", created.GetProperty("title").GetString());
            await using var viewer = await TestSocket.ConnectAsync(front.SocketUri(id, "resend_all=true"));
            await viewer.ReceiveJsonAsync();
            for (var b = 2; b < 4; b++) await upstream.IngestAsync(uid, Batch(b * 100, 100), UpstreamKey);
            await WaitForCountAsync(front, id, 400);

            // The upstream restarts (same port, same log); the agent goes on after it.
            await upstream.DisposeAsync();
            await WaitForLinkAsync(front, id, l => !l.GetProperty("connected").GetBoolean(), "the link down");
            upstream = await StartUpstream(upstreamDir, port: port);
            await using (upstream)
            {
                for (var b = 4; b < 6; b++) await upstream.IngestAsync(uid, Batch(b * 100, 100), UpstreamKey);
                await WaitForCountAsync(front, id, 600);

                var expected = (await AllEventsAsync(upstream, uid, UpstreamKey)).Select(e => JsonNode.Parse(e.GetRawText())!).ToList();
                var stored = await AllEventsAsync(front, id);
                AssertSameLog(expected, stored); // ids, kinds, sources, fields and timestamps as the upstream has them
                var seen = new List<string>();
                for (var i = 0; i < stored.Count; i++) seen.Add((await viewer.ReceiveJsonAsync()).Id());
                Assert.Equal(stored.Select(e => e.Id()), seen);

                var (_, upstreamInfo) = await upstream.GetAsync($"/api/conversations/{uid}", UpstreamKey);
                var info = await WaitForLinkAsync(front, id, l => l.GetProperty("state").GetString() == "live", "live");
                Assert.Equal(upstreamInfo.GetProperty("execution_status").GetString(), info.GetProperty("execution_status").GetString());
                var link = info.GetProperty("upstream");
                Assert.True(link.GetProperty("connected").GetBoolean());
                Assert.Equal(600, link.GetProperty("events_followed").GetInt64());
                Assert.True(link.GetProperty("reconnects").GetInt64() >= 1);
                Assert.Equal(stored[^1].Id(), link.GetProperty("last_event_id").GetString());
                var metrics = await front.Http.GetStringAsync("/metrics");
                Assert.Matches(@"akka_sync_upstream_links\{[^}]*connected=""true""[^}]*\} [1-9]", metrics);
                Assert.Contains("akka_sync_upstream_lag_events", metrics);
                Assert.Contains("akka_sync_upstream_lag_seconds", metrics);
                output.WriteLine($"{stored.Count} events followed once each, in order, across an upstream restart; the viewer saw each once; link {link}");
            }
        }
        finally
        {
            SyncServer.TryDelete(upstreamDir);
        }
    }

    [Fact]
    public async Task A_user_message_sent_through_Akka_Sync_reaches_the_upstream_once_and_the_upstream_demo_agents_answer_comes_back_once()
    {
        var upstreamDir = SyncServer.NewDataDirectory();
        try
        {
            await using var upstream = await StartUpstream(upstreamDir, mode: "demo");
            await using var front = await SyncServer.StartAsync(FastLink());
            // Started upstream by the front with the body a client sends (the canvas' shape), under the same id.
            var created = await BindAsync(front, upstream.BaseUri.ToString(), null, UpstreamKey, new
            {
                workspace = new { kind = "LocalWorkspace", working_dir = "/workspace" },
                initial_message = new { role = "user", content = new[] { new { type = "text", text = "first" } }, run = true },
            });
            var id = created.GetProperty("id").GetString()!;
            Assert.Equal("first", created.GetProperty("title").GetString());
            await using var socket = await TestSocket.ConnectAsync(front.SocketUri(id, "resend_all=true"));
            await socket.ReceiveJsonAsync();
            await socket.ReceiveUntilAsync(e => e.Kind() == "MessageEvent" && e.GetRawText().Contains("You said: \\\"first\\\""));
            await socket.ReceiveUntilAsync(e => e.IsStatus("finished")); // a message during a run waits for the next run

            await socket.SendTextAsync("""{"role":"user","content":[{"type":"text","text":"through the front's socket"}]}""");
            await socket.ReceiveUntilAsync(e => e.Kind() == "MessageEvent" && e.GetRawText().Contains("You said: \\\"through the front's socket\\\""));
            await socket.ReceiveUntilAsync(e => e.IsStatus("finished"));
            var (sent, _) = await front.SendAsync(HttpMethod.Post, $"/api/conversations/{id}/events",
                new { role = "user", content = new[] { new { type = "text", text = "through the front's REST" } }, run = true });
            Assert.Equal(200, sent);
            await socket.ReceiveUntilAsync(e => e.Kind() == "MessageEvent" && e.GetRawText().Contains("You said: \\\"through the front's REST\\\""));
            await socket.ReceiveUntilAsync(e => e.IsStatus("finished"));

            var upstreamLog = await AllEventsAsync(upstream, id, UpstreamKey);
            await WaitForCountAsync(front, id, upstreamLog.Count);
            var frontLog = await AllEventsAsync(front, id);
            AssertSameLog(upstreamLog.Select(e => JsonNode.Parse(e.GetRawText())!).ToList(), frontLog);
            foreach (var text in new[] { "first", "through the front's socket", "through the front's REST" })
            {
                Assert.Single(upstreamLog, e => IsUserMessage(e, text));
                Assert.Single(frontLog, e => IsUserMessage(e, text));
            }
            Assert.Equal("finished", (await front.GetAsync($"/api/conversations/{id}")).Body.GetProperty("execution_status").GetString());
            output.WriteLine($"{frontLog.Count} events: three user messages, each stored once upstream and once here, each answered by the upstream's demo agent");
        }
        finally
        {
            SyncServer.TryDelete(upstreamDir);
        }
    }

    [Fact]
    public async Task With_a_configured_upstream_v1_creates_are_started_there_while_v0_and_an_explicit_null_stay_here()
    {
        var upstreamDir = SyncServer.NewDataDirectory();
        try
        {
            await using var upstream = await StartUpstream(upstreamDir);
            await using var front = await SyncServer.StartAsync(FastLink(new()
            {
                ["Upstream:Url"] = upstream.BaseUri.ToString(), ["Upstream:SessionApiKey"] = UpstreamKey,
            }));
            var started = await front.CreateConversationAsync(new { title = "started upstream" });
            var id = started.GetProperty("id").GetString()!;
            Assert.Equal(upstream.BaseUri.ToString().TrimEnd('/'), started.GetProperty("upstream").GetProperty("url").GetString());
            Assert.Equal("started upstream", (await upstream.GetAsync($"/api/conversations/{id}", UpstreamKey)).Body.GetProperty("title").GetString());
            // The configured key is used (the link goes live) and is not stored: the binding holds none.
            await WaitForLinkAsync(front, id, l => l.GetProperty("state").GetString() == "live", "live with the configured key");

            Assert.False((await front.CreateConversationAsync(new { protocol = "v0" })).TryGetProperty("upstream", out _));
            var local = await front.SendAsync(HttpMethod.Post, "/api/conversations", """{"upstream":null}""");
            Assert.Equal(201, local.Status);
            Assert.False(local.Body.TryGetProperty("upstream", out _));
            Assert.Equal(404, (await upstream.GetAsync($"/api/conversations/{local.Body.GetProperty("id").GetString()}", UpstreamKey)).Status);
        }
        finally
        {
            SyncServer.TryDelete(upstreamDir);
        }
    }

    private static bool IsUserMessage(JsonElement e, string text) =>
        e.Kind() == "MessageEvent" && e.GetProperty("source").GetString() == "user"
        && e.GetProperty("llm_message").GetProperty("content")[0].GetProperty("text").GetString() == text;

    [Fact]
    public async Task An_upstream_key_is_stored_encrypted_never_returned_or_logged_and_read_back_after_a_restart()
    {
        var upstreamDir = SyncServer.NewDataDirectory();
        var frontDir = SyncServer.NewDataDirectory();
        try
        {
            await using var upstream = await StartUpstream(upstreamDir);
            var uid = (await upstream.CreateConversationAsync(new { }, UpstreamKey)).GetProperty("id").GetString()!;
            await upstream.IngestAsync(uid, Batch(0, 10), UpstreamKey);
            var logs = new LogCapture();
            var debug = FastLink(new() { ["Logging:LogLevel:Default"] = "Debug", ["Logging:LogLevel:Akka"] = "Debug" });
            string id;
            await using (var front = await SyncServer.StartAsync(debug, frontDir, logs))
            {
                var created = await BindAsync(front, upstream.BaseUri.ToString(), uid, UpstreamKey);
                id = created.GetProperty("id").GetString()!;
                Assert.DoesNotContain(UpstreamKey, created.GetRawText());
                await WaitForCountAsync(front, id, 10);
                Assert.DoesNotContain(UpstreamKey, (await front.GetAsync($"/api/conversations/{id}")).Body.GetRawText());
                Assert.DoesNotContain(UpstreamKey, (await front.GetAsync("/api/conversations/search")).Body.GetRawText());
            }
            // At rest: not in the journal or its WAL (only Data Protection's ciphertext is); the key ring is beside it.
            var key = Encoding.UTF8.GetBytes(UpstreamKey);
            foreach (var file in Directory.GetFiles(frontDir, "akka-sync.db*"))
                Assert.True(File.ReadAllBytes(file).AsSpan().IndexOf(key) < 0, $"{Path.GetFileName(file)} holds the key in clear");
            Assert.NotEmpty(Directory.GetFiles(Path.Combine(frontDir, "keys"), "key-*.xml"));

            // A restarted front reads the key back (its ring) and follows on, woken by the keeper with no client asking.
            await upstream.IngestAsync(uid, Batch(10, 5), UpstreamKey);
            await using (var front = await SyncServer.StartAsync(debug, frontDir, logs))
            {
                await WaitForLinkAsync(front, id, l => l.GetProperty("state").GetString() == "live", "live after the restart");
                await WaitForCountAsync(front, id, 15);
                Assert.Equal((await AllEventsAsync(upstream, uid, UpstreamKey)).Select(e => e.Id()), (await AllEventsAsync(front, id)).Select(e => e.Id()));
            }
            Assert.NotEmpty(logs.Lines);
            Assert.DoesNotContain(logs.Lines, l => l.Contains(UpstreamKey));
        }
        finally
        {
            SyncServer.TryDelete(upstreamDir);
            SyncServer.TryDelete(frontDir);
        }
    }

    [Fact]
    public async Task A_bound_conversation_runs_no_local_agent_takes_no_ingest_and_bad_bindings_are_refused()
    {
        var upstreamDir = SyncServer.NewDataDirectory();
        try
        {
            await using var upstream = await StartUpstream(upstreamDir);
            // The front's own demo agent is on: it must leave a bound conversation alone.
            await using var front = await SyncServer.StartAsync(FastLink(new() { ["Agent:Mode"] = "demo" }));
            var uid = (await upstream.CreateConversationAsync(new { }, UpstreamKey)).GetProperty("id").GetString()!;
            var id = (await BindAsync(front, upstream.BaseUri.ToString(), uid, UpstreamKey)).GetProperty("id").GetString()!;
            await using var socket = await TestSocket.ConnectAsync(front.SocketUri(id));
            await socket.ReceiveJsonAsync();
            await socket.SendTextAsync("""{"role":"user","content":[{"type":"text","text":"anyone there?"}]}""");
            await socket.ReceiveUntilAsync(e => e.IsStatus("running")); // the upstream (no agent attached) says running
            var marker = await upstream.IngestAsync(uid, [SyncServer.Message("the upstream's agent")], UpstreamKey);
            await socket.ReceiveUntilAsync(e => e.Id() == marker[0].GetProperty("id").GetString());
            Assert.Equal((await AllEventsAsync(upstream, uid, UpstreamKey)).Select(e => e.Id()), (await AllEventsAsync(front, id)).Select(e => e.Id()));

            var (ingest, refusal) = await front.SendAsync(HttpMethod.Post, $"/api/conversations/{id}/agent/events", new object[] { SyncServer.Message("sideways") });
            Assert.Equal(409, ingest);
            output.WriteLine("ingest into a bound conversation: " + refusal);

            async Task<(int, string)> Bind(object body)
            {
                var (status, answer) = await front.SendAsync(HttpMethod.Post, "/api/conversations", body);
                return (status, answer.GetRawText());
            }
            var url = upstream.BaseUri.ToString();
            foreach (var (body, status, detail) in new (object, int, string)[]
            {
                (new { protocol = "v0", upstream = new { url, conversation_id = uid } }, 400, "speaks v1"),
                (new { upstream = new { url = "ftp://example.com", conversation_id = uid } }, 400, "absolute http or https URL"),
                (new { upstream = new { url = "http://user:pw@127.0.0.1:1", conversation_id = uid } }, 400, "without credentials"),
                (new { upstream = new { url, conversation_id = "not-a-uuid" } }, 400, "must be a UUID"),
                (new { upstream = new { url, conversation_id = uid, session_api_key = "wrong" } }, 400, "refused upstream.session_api_key"),
                (new { upstream = new { url, conversation_id = Guid.NewGuid(), session_api_key = UpstreamKey } }, 400, "does not know the conversation"),
                (new { upstream = new { url = "http://127.0.0.1:1", conversation_id = uid } }, 502, "could not be reached"),
                (new { upstream = "http://example.com" }, 400, "must be an object"),
                (new { conversation_id = id, upstream = new { url, conversation_id = Guid.NewGuid().ToString(), session_api_key = UpstreamKey } }, 400, "does not know"),
            })
            {
                var (got, answer) = await Bind(body);
                Assert.True(got == status && answer.Contains(detail), $"{JsonSerializer.Serialize(body)} -> {got} {answer}");
            }
            // An existing unbound conversation cannot be bound by a repeated create.
            var plain = await front.NewConversationAsync();
            var (conflict, why) = await Bind(new { conversation_id = plain, upstream = new { url, conversation_id = uid, session_api_key = UpstreamKey } });
            Assert.True(conflict == 409, why);
        }
        finally
        {
            SyncServer.TryDelete(upstreamDir);
        }
    }
}
