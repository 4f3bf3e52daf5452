using System.Net;
using System.Text.Json;
using Akka.Sync.Gateway.Tests.Support;
using Xunit;

namespace Akka.Sync.Gateway.Tests.AgentServer;

/// <summary>
/// CONTRACT §10: the agent-server routes Agent Canvas needs beyond §7 — <c>/server_info</c>, the batch get, <c>interrupt</c>
/// — and agent-server's JSON bodies for routes and methods that do not exist.
/// </summary>
public sealed class AgentServerRoutesTests
{
    private const string Key = "server-key-for-routes";

    [Fact]
    public async Task Server_info_answers_without_a_key_with_an_agent_server_version_the_canvas_accepts()
    {
        await using var server = await SyncServer.StartAsync(new Dictionary<string, string?> { ["Auth:SessionApiKeys:0"] = Key });
        var (status, info) = await server.GetAsync("/server_info");

        Assert.Equal(200, status);
        var version = Version.Parse(info.GetProperty("version").GetString()!);
        Assert.Equal(3, info.GetProperty("version").GetString()!.Split('.').Length);
        Assert.True(version >= new Version(1, 28, 0), $"version {version} is below the canvas' minimum 1.28.0");
        Assert.Equal("Akka.Sync", info.GetProperty("title").GetString());
        Assert.Equal("external", info.GetProperty("agent_mode").GetString());
        Assert.Equal(JsonValueKind.Number, info.GetProperty("uptime").ValueKind);
        Assert.Equal(JsonValueKind.Number, info.GetProperty("idle_time").ValueKind);
        // null (absent) usable_tools means "every tool" to the canvas; a list would hide tools from its UI.
        Assert.False(info.TryGetProperty("usable_tools", out _));
    }

    [Fact]
    public async Task Batch_get_answers_each_id_in_the_order_given_with_null_for_an_unknown_one()
    {
        await using var server = await SyncServer.StartAsync();
        var a = Guid.NewGuid();
        var b = Guid.NewGuid();
        await server.CreateConversationAsync(new { conversation_id = a.ToString("N"), title = "a" });
        await server.CreateConversationAsync(new { conversation_id = b.ToString("N"), title = "b" });

        var (status, list) = await server.GetAsync($"/api/conversations?ids={b:D}&ids={Guid.NewGuid():N}&ids={a:N}");

        Assert.Equal(200, status);
        var items = list.EnumerateArray().ToArray();
        Assert.Equal(3, items.Length);
        Assert.Equal(b.ToString("N"), items[0].GetProperty("id").GetString());
        Assert.Equal("b", items[0].GetProperty("title").GetString());
        Assert.Equal("idle", items[0].GetProperty("execution_status").GetString());
        Assert.Equal(JsonValueKind.Null, items[1].ValueKind);
        Assert.Equal(a.ToString("N"), items[2].GetProperty("id").GetString());
    }

    [Fact]
    public async Task Batch_get_with_a_conversation_key_opens_only_that_conversation_and_a_key_that_opens_nothing_is_refused()
    {
        await using var server = await SyncServer.StartAsync(new Dictionary<string, string?> { ["Auth:SessionApiKeys:0"] = Key });
        var mine = await server.CreateConversationAsync(new { title = "mine" }, Key);
        var other = await server.CreateConversationAsync(new { title = "other" }, Key);
        var myKey = mine.GetProperty("session_api_key").GetString();
        var query = $"/api/conversations?ids={mine.GetProperty("id").GetString()}&ids={other.GetProperty("id").GetString()}";

        var (status, list) = await server.GetAsync(query, myKey);
        Assert.Equal(200, status);
        Assert.Equal("mine", list[0].GetProperty("title").GetString());
        Assert.Equal(JsonValueKind.Null, list[1].ValueKind);

        Assert.Equal("other", (await server.GetAsync(query, Key)).Body[1].GetProperty("title").GetString());
        Assert.Equal(401, (await server.GetAsync(query)).Status);
        var (wrong, body) = await server.GetAsync(query, "not-a-key");
        Assert.Equal(401, wrong);
        Assert.True(body.TryGetProperty("detail", out _));
    }

    [Theory]
    [InlineData("", "ids is required")]
    [InlineData("?ids=nope", "ids[0]")]
    [InlineData("?ids=", "ids[0]")]
    public async Task Batch_get_refuses_missing_or_bad_ids_with_400(string query, string detailPart)
    {
        await using var server = await SyncServer.StartAsync();
        var (status, body) = await server.GetAsync("/api/conversations" + query);
        Assert.Equal(400, status);
        Assert.Contains(detailPart, body.GetProperty("detail").GetString());
    }

    [Fact]
    public async Task Batch_get_refuses_a_hundred_ids_as_agent_server_does()
    {
        await using var server = await SyncServer.StartAsync();
        var query = string.Join('&', Enumerable.Range(0, 100).Select(_ => $"ids={Guid.NewGuid():N}"));
        Assert.Equal(400, (await server.GetAsync("/api/conversations?" + query)).Status);
        query = string.Join('&', Enumerable.Range(0, 99).Select(_ => $"ids={Guid.NewGuid():N}"));
        Assert.Equal(99, (await server.GetAsync("/api/conversations?" + query)).Body.GetArrayLength());
    }

    [Fact]
    public async Task Interrupt_pauses_a_running_conversation_and_marks_it_with_an_InterruptEvent()
    {
        await using var server = await SyncServer.StartAsync();
        var id = await server.NewConversationAsync();
        await server.SendAsync(HttpMethod.Post, $"/api/conversations/{id}/events", new { role = "user", content = new[] { new { type = "text", text = "go" } }, run = true });
        Assert.Equal("running", (await server.GetAsync($"/api/conversations/{id}")).Body.GetProperty("execution_status").GetString());

        var (status, body) = await server.SendAsync(HttpMethod.Post, $"/api/conversations/{id}/interrupt", new { });

        Assert.Equal(200, status);
        Assert.True(body.GetProperty("success").GetBoolean());
        Assert.Equal("paused", (await server.GetAsync($"/api/conversations/{id}")).Body.GetProperty("execution_status").GetString());
        var events = (await server.GetAsync($"/api/conversations/{id}/events/search")).Body.GetProperty("items").EnumerateArray().ToArray();
        Assert.True(events[^2].IsStatus("paused"));
        Assert.Equal("InterruptEvent", events[^1].Kind());
        Assert.Equal("user", events[^1].GetProperty("source").GetString());
        // Interrupting again changes nothing, as pausing again does.
        Assert.Equal(200, (await server.SendAsync(HttpMethod.Post, $"/api/conversations/{id}/interrupt", new { })).Status);
        Assert.Equal(events.Length, (await server.GetAsync($"/api/conversations/{id}/events/count")).Body.GetInt32());
    }

    [Fact]
    public async Task Interrupt_answers_400_where_the_conversation_cannot_be_interrupted()
    {
        await using var server = await SyncServer.StartAsync();
        var (unknown, body) = await server.SendAsync(HttpMethod.Post, $"/api/conversations/{Guid.NewGuid():N}/interrupt", new { });
        Assert.Equal(400, unknown);
        Assert.Contains("not found", body.GetProperty("detail").GetString());
        var v0 = (await server.CreateConversationAsync(new { protocol = "v0" })).GetProperty("id").GetString();
        var (wrongDialect, detail) = await server.SendAsync(HttpMethod.Post, $"/api/conversations/{v0}/interrupt", new { });
        Assert.Equal(400, wrongDialect);
        Assert.Contains("wrong protocol", detail.GetProperty("detail").GetString());
        Assert.Equal(400, (await server.SendAsync(HttpMethod.Post, "/api/conversations/nope/interrupt", new { })).Status);
    }

    [Theory]
    [InlineData("GET", "/api/nothing-here", 404, "Not Found")]
    [InlineData("POST", "/api/conversations/search", 405, "Method Not Allowed")]
    [InlineData("PUT", "/api/settings", 405, "Method Not Allowed")]
    [InlineData("DELETE", "/nothing/here", 404, "Not Found")]
    [InlineData("GET", "/assets/app.js", 404, "Not Found")]
    public async Task Routes_and_methods_that_do_not_exist_answer_with_agent_servers_json_detail(string method, string path, int expected, string detail)
    {
        await using var server = await SyncServer.StartAsync();
        using var response = await server.Http.SendAsync(new HttpRequestMessage(new HttpMethod(method), path));
        Assert.Equal(expected, (int)response.StatusCode);
        Assert.Equal("application/json", response.Content.Headers.ContentType?.MediaType);
        Assert.Equal(detail, JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.GetProperty("detail").GetString());
    }

    [Fact]
    public async Task Events_of_one_batch_get_distinct_increasing_timestamps_so_paging_by_timestamp_misses_none()
    {
        await using var server = await SyncServer.StartAsync();
        var id = await server.NewConversationAsync();
        var stored = (await server.IngestAsync(id, Enumerable.Range(0, 300).Select(i => SyncServer.Message($"m{i}")).ToArray()))
            .Select(i => i.GetProperty("id").GetString()!).ToArray();

        // Agent Canvas pages back with timestamp__lt = the oldest timestamp it holds, 50 at a time, newest first.
        var seen = new List<string>();
        string? oldest = null;
        for (var page = 0; page < 20; page++)
        {
            var query = $"/api/conversations/{id}/events/search?limit=50&sort_order=TIMESTAMP_DESC"
                        + (oldest is null ? "" : "&timestamp__lt=" + Uri.EscapeDataString(oldest));
            var items = (await server.GetAsync(query)).Body.GetProperty("items").EnumerateArray().ToArray();
            if (items.Length == 0) break;
            seen.AddRange(items.Select(e => e.Id()));
            oldest = items[^1].GetProperty("timestamp").GetString();
        }

        Assert.Equal(stored.Reverse(), seen);
    }

    [Fact]
    public async Task A_conversation_created_with_a_first_message_and_no_title_is_titled_from_it_unless_autotitle_is_off()
    {
        await using var server = await SyncServer.StartAsync();
        object Message(string text) => new { role = "user", content = new[] { new { type = "text", text } }, run = false };

        var titled = await server.CreateConversationAsync(new { initial_message = Message("Fix the login page\nand the footer") });
        Assert.Equal("Fix the login page", titled.GetProperty("title").GetString());
        var longOne = await server.CreateConversationAsync(new { initial_message = Message(new string('x', 100)) });
        Assert.Equal(new string('x', 59) + "…", longOne.GetProperty("title").GetString());
        var untitled = await server.CreateConversationAsync(new { initial_message = Message("hello"), autotitle = false });
        Assert.Equal(JsonValueKind.Null, untitled.GetProperty("title").ValueKind);
        var named = await server.CreateConversationAsync(new { initial_message = Message("hello"), title = "mine" });
        Assert.Equal("mine", named.GetProperty("title").GetString());
    }

    [Fact]
    public async Task A_canvas_style_create_body_is_accepted_and_its_first_message_starts_the_run()
    {
        await using var server = await SyncServer.StartAsync();
        var id = Guid.NewGuid();
        // The body Agent Canvas sends (agent-server's StartConversationRequest); fields this server does not use are ignored.
        var (status, info) = await server.SendAsync(HttpMethod.Post, "/api/conversations", $$$"""
            {"agent_settings":{"agent_kind":"openhands","llm":{"model":"akka-sync/demo-agent","stream":true},"tools":[{"name":"terminal","params":{}}]},
             "workspace":{"kind":"LocalWorkspace","working_dir":"/workspace/workspace/project/{{{id:N}}}"},
             "client_tools":[],"confirmation_policy":{"kind":"NeverConfirm"},"max_iterations":500,"stuck_detection":true,
             "autotitle":true,"worktree":true,"tags":{"clientsource":"agentcanvas"},"secrets_encrypted":true,
             "conversation_id":"{{{id:D}}}",
             "initial_message":{"role":"user","content":[{"type":"text","text":"build me a page"}],"run":true}}
            """);
        Assert.Equal(201, status);
        Assert.Equal(id.ToString("N"), info.GetProperty("id").GetString());
        Assert.Equal("running", info.GetProperty("execution_status").GetString());
        Assert.Equal("build me a page", info.GetProperty("title").GetString());
    }
}
