using System.Text.Json;
using Akka.Sync.Gateway.Tests.Support;
using Xunit;

namespace Akka.Sync.Gateway.Tests.AgentServer;

/// <summary>
/// CONTRACT §10: the routes Agent Canvas calls to set itself up answer agent-server's shapes with this server's truth,
/// complete enough that the canvas shows no consent dialog and keeps its composer enabled; the clients' own
/// preferences are merged and kept.
/// </summary>
public sealed class ClientSetupTests
{
    private const string Key = "server-key-for-setup";

    [Fact]
    public async Task Settings_describe_the_attached_agent_and_answer_the_analytics_question()
    {
        await using var server = await SyncServer.StartAsync(new Dictionary<string, string?> { ["Agent:Mode"] = "demo" });
        var (status, settings) = await server.GetAsync("/api/settings");

        Assert.Equal(200, status);
        Assert.Equal("openhands", settings.GetProperty("agent_settings").GetProperty("agent_kind").GetString());
        Assert.Equal("akka-sync/demo-agent", settings.GetProperty("agent_settings").GetProperty("llm").GetProperty("model").GetString());
        Assert.Equal(JsonValueKind.Null, settings.GetProperty("agent_settings").GetProperty("llm").GetProperty("api_key").ValueKind);
        Assert.True(settings.GetProperty("llm_api_key_is_set").GetBoolean());
        Assert.Equal("akka-sync", settings.GetProperty("active_profile").GetString());
        Assert.False(settings.GetProperty("conversation_settings").GetProperty("confirmation_mode").GetBoolean());
        // An unanswered consent question raises a blocking dialog in the canvas: this server sends nothing anywhere.
        Assert.False(settings.GetProperty("misc_settings").GetProperty("app_preferences").GetProperty("user_consents_to_analytics").GetBoolean());
    }

    [Fact]
    public async Task The_one_profile_is_the_attached_agent_active_and_needing_no_key_from_the_browser()
    {
        await using var server = await SyncServer.StartAsync();
        var profiles = (await server.GetAsync("/api/profiles")).Body;

        var profile = Assert.Single(profiles.GetProperty("profiles").EnumerateArray());
        Assert.Equal(profiles.GetProperty("active_profile").GetString(), profile.GetProperty("name").GetString());
        Assert.Equal("akka-sync/external-agent", profile.GetProperty("model").GetString());
        Assert.True(profile.GetProperty("api_key_set").GetBoolean()); // false disables the canvas' composer
        Assert.Equal(200, (await server.GetAsync("/api/profiles/akka-sync")).Status);
        Assert.Equal(404, (await server.GetAsync("/api/profiles/someone-else")).Status);
        Assert.Equal(200, (await server.SendAsync(HttpMethod.Post, "/api/profiles/akka-sync/activate")).Status);
        Assert.Equal(404, (await server.SendAsync(HttpMethod.Post, "/api/profiles/someone-else/activate")).Status);
    }

    [Fact]
    public async Task Misc_settings_are_merged_like_agent_server_and_survive_a_restart()
    {
        var dir = SyncServer.NewDataDirectory();
        try
        {
            await using (var first = await SyncServer.StartAsync(dataDirectory: dir))
            {
                var (status, merged) = await first.SendAsync(HttpMethod.Patch, "/api/settings",
                    new { misc_settings_diff = new { app_preferences = new { language = "de", enabled_skills = new[] { "a", "b" } } } });
                Assert.Equal(200, status);
                Assert.Equal("de", merged.GetProperty("misc_settings").GetProperty("app_preferences").GetProperty("language").GetString());
                // RFC 7386: nested objects merge, null deletes, lists replace.
                (_, merged) = await first.SendAsync(HttpMethod.Patch, "/api/settings", """
                    {"misc_settings_diff":{"app_preferences":{"language":null,"enabled_skills":["c"],"user_consents_to_analytics":true},"theme":"dark"}}
                    """);
                var prefs = merged.GetProperty("misc_settings").GetProperty("app_preferences");
                Assert.False(prefs.TryGetProperty("language", out _));
                Assert.Equal(["c"], prefs.GetProperty("enabled_skills").EnumerateArray().Select(e => e.GetString()));
                Assert.True(prefs.GetProperty("user_consents_to_analytics").GetBoolean());
            }
            await using var second = await SyncServer.StartAsync(dataDirectory: dir);
            var misc = (await second.GetAsync("/api/settings")).Body.GetProperty("misc_settings");
            Assert.Equal("dark", misc.GetProperty("theme").GetString());
            Assert.Equal(["c"], misc.GetProperty("app_preferences").GetProperty("enabled_skills").EnumerateArray().Select(e => e.GetString()));
            Assert.True(misc.GetProperty("app_preferences").GetProperty("user_consents_to_analytics").GetBoolean());
        }
        finally
        {
            SyncServer.TryDelete(dir);
        }
    }

    [Theory]
    [InlineData("""{}""", 400, "At least one of")]
    [InlineData("""{"agent_settings_diff":{"llm":{"model":"gpt"}}}""", 400, "cannot be changed")]
    [InlineData("""{"conversation_settings_diff":{"confirmation_mode":true}}""", 400, "cannot be changed")]
    [InlineData("""{"active_profile":"someone-else"}""", 404, "Profile 'someone-else' not found")]
    [InlineData("""{"active_agent_profile_id":"0b9f0a3c-1111-4444-8888-000000000000"}""", 404, "not found")]
    [InlineData("""{"misc_settings_diff":[1]}""", 400, "JSON object")]
    [InlineData("""[1]""", 400, "JSON object")]
    [InlineData("""{broken""", 400, "invalid JSON")]
    public async Task A_settings_patch_this_server_cannot_apply_is_refused_with_the_reason_and_changes_nothing(string body, int expected, string detailPart)
    {
        await using var server = await SyncServer.StartAsync();
        var before = (await server.GetAsync("/api/settings")).Body.GetRawText();
        var (status, answer) = await server.SendAsync(HttpMethod.Patch, "/api/settings", body);
        Assert.Equal(expected, status);
        Assert.Contains(detailPart, answer.GetProperty("detail").GetString());
        Assert.Equal(before, (await server.GetAsync("/api/settings")).Body.GetRawText());
    }

    [Fact]
    public async Task Preferences_past_their_size_bound_are_refused_with_413_and_nothing_is_kept()
    {
        await using var server = await SyncServer.StartAsync();
        var (status, body) = await server.SendAsync(HttpMethod.Patch, "/api/settings",
            new { misc_settings_diff = new { blob = new string('x', 70_000) } });
        Assert.Equal(413, status);
        Assert.Contains("at most", body.GetProperty("detail").GetString());
        Assert.False((await server.GetAsync("/api/settings")).Body.GetProperty("misc_settings").TryGetProperty("blob", out _));
    }

    [Theory]
    [InlineData("GET", "/api/agent-profiles", "profiles")]
    [InlineData("GET", "/api/llm/models/verified", "models")]
    [InlineData("GET", "/api/llm/models", "models")]
    [InlineData("GET", "/api/llm/providers", "providers")]
    [InlineData("GET", "/api/workspaces", "workspaceParents")]
    [InlineData("GET", "/api/file/home", "home")]
    [InlineData("POST", "/api/skills", "skills")]
    [InlineData("POST", "/api/hooks", "hook_config")]
    [InlineData("GET", "/api/plugins/installed", "plugins")]
    [InlineData("GET", "/api/canvas-extensions/installed", "canvas_extensions")]
    [InlineData("GET", "/api/settings/secrets", "secrets")]
    [InlineData("GET", "/api/settings/agent-schema", "sections")]
    [InlineData("GET", "/api/settings/conversation-schema", "sections")]
    [InlineData("GET", "/api/automation/v1", "automations")]
    public async Task Each_setup_route_answers_its_agent_server_shape(string method, string path, string field)
    {
        await using var server = await SyncServer.StartAsync();
        var (status, body) = await server.SendAsync(new HttpMethod(method), path, method == "POST" ? new { } : null);
        Assert.Equal(200, status);
        Assert.True(body.TryGetProperty(field, out _), $"{path} has no {field}: {body}");
    }

    [Fact]
    public async Task What_this_server_does_not_have_it_says_so()
    {
        await using var server = await SyncServer.StartAsync();
        Assert.Empty((await server.GetAsync("/api/llm/provider-connections")).Body.EnumerateArray());
        var (health, detail) = await server.GetAsync("/api/automation/health");
        Assert.Equal(503, health);
        Assert.Equal("unavailable", detail.GetProperty("status").GetString());
        var (status, bash) = await server.SendAsync(HttpMethod.Post, "/api/bash/execute_bash_command", new { command = "ls" });
        Assert.Equal(200, status);
        Assert.NotEqual(0, bash.GetProperty("exit_code").GetInt32());
        Assert.Contains("no sandbox", bash.GetProperty("stderr").GetString());

        // The workspace cookie would open workspace file routes; there are none, so nothing is set, and the empty
        // answer carries no JSON content type (the canvas parses a JSON body otherwise and fails).
        using var session = await server.Http.PostAsync("/api/auth/workspace-session", null);
        Assert.Equal(204, (int)session.StatusCode);
        Assert.Null(session.Content.Headers.ContentType);
        Assert.False(session.Headers.Contains("Set-Cookie"));
    }

    [Fact]
    public async Task Setup_routes_need_a_server_key_and_a_conversation_key_is_not_one()
    {
        await using var server = await SyncServer.StartAsync(new Dictionary<string, string?> { ["Auth:SessionApiKeys:0"] = Key });
        var conversationKey = (await server.CreateConversationAsync(null, Key)).GetProperty("session_api_key").GetString();
        foreach (var path in new[] { "/api/settings", "/api/profiles", "/api/file/home", "/api/workspaces" })
        {
            Assert.Equal(401, (await server.GetAsync(path)).Status);
            Assert.Equal(401, (await server.GetAsync(path, conversationKey)).Status);
            Assert.Equal(200, (await server.GetAsync(path, Key)).Status);
        }
        Assert.Equal(401, (await server.SendAsync(HttpMethod.Patch, "/api/settings", new { misc_settings_diff = new { a = 1 } })).Status);
        Assert.Equal(200, (await server.GetAsync("/server_info")).Status);
    }
}
