using Akka.Sync.Gateway.Tests.Support;
using Xunit;

namespace Akka.Sync.Gateway.Tests;

/// <summary>CONTRACT §9: the demo agent answers a user message the way the OpenHands frontends render.</summary>
public sealed class DemoAgentTests
{
    [Fact]
    public async Task A_user_message_gets_a_terminal_action_its_observation_an_answer_and_finished()
    {
        await using var server = await SyncServer.StartAsync(new Dictionary<string, string?> { ["Agent:Mode"] = "demo" });
        var id = await server.NewConversationAsync();
        await using var socket = await TestSocket.ConnectAsync(server.SocketUri(id));
        await socket.ReceiveJsonAsync();

        await socket.SendTextAsync("""{"role":"user","content":[{"type":"text","text":"hi agent"}]}""");
        var frames = await socket.ReceiveUntilAsync(f => f.IsStatus("finished"));

        Assert.Equal(["MessageEvent", "ConversationStateUpdateEvent", "ActionEvent", "ObservationEvent", "MessageEvent", "ConversationStateUpdateEvent"],
            frames.Select(f => f.Kind()));
        Assert.True(frames[1].IsStatus("running"));
        var action = frames[2];
        Assert.Equal("agent", action.GetProperty("source").GetString());
        Assert.Equal("ExecuteBashAction", action.GetProperty("action").GetProperty("kind").GetString());
        Assert.False(string.IsNullOrEmpty(action.GetProperty("action").GetProperty("command").GetString()));
        Assert.Equal(System.Text.Json.JsonValueKind.String, action.GetProperty("tool_name").ValueKind);
        Assert.Equal(System.Text.Json.JsonValueKind.String, action.GetProperty("tool_call_id").ValueKind);
        var observation = frames[3];
        Assert.Equal("environment", observation.GetProperty("source").GetString());
        Assert.Equal("ExecuteBashObservation", observation.GetProperty("observation").GetProperty("kind").GetString());
        Assert.Equal(action.Id(), observation.GetProperty("action_id").GetString());
        // Agent Canvas reads observation.metadata.exit_code unguarded: without it the conversation page crashes.
        Assert.Equal(0, observation.GetProperty("observation").GetProperty("metadata").GetProperty("exit_code").GetInt32());
        var answer = frames[4];
        Assert.Equal("agent", answer.GetProperty("source").GetString());
        Assert.Equal("assistant", answer.GetProperty("llm_message").GetProperty("role").GetString());
        Assert.Contains("hi agent", answer.GetProperty("llm_message").GetProperty("content")[0].GetProperty("text").GetString());
        Assert.Equal("finished", (await server.GetAsync($"/api/conversations/{id}")).Body.GetProperty("execution_status").GetString());
    }

    [Fact]
    public async Task Pausing_stops_the_demo_run_and_a_new_message_starts_again_from_finished_through_idle()
    {
        await using var server = await SyncServer.StartAsync(new Dictionary<string, string?>
        {
            ["Agent:Mode"] = "demo",
            ["Agent:DemoStepDelay"] = "00:00:30",
        });
        var id = await server.NewConversationAsync();
        await server.SendAsync(HttpMethod.Post, $"/api/conversations/{id}/events", new { role = "user", content = new[] { new { type = "text", text = "go" } }, run = true });
        Assert.Equal(200, (await server.SendAsync(HttpMethod.Post, $"/api/conversations/{id}/pause", new { })).Status);

        // The run was paused before its first step: nothing but the message, running, paused and PauseEvent.
        var (_, page) = await server.GetAsync($"/api/conversations/{id}/events/search");
        Assert.Equal(["MessageEvent", "ConversationStateUpdateEvent", "ConversationStateUpdateEvent", "PauseEvent"],
            page.GetProperty("items").EnumerateArray().Select(e => e.Kind()));
    }

    [Fact]
    public async Task A_message_sent_without_run_is_answered_by_the_next_run_in_the_users_words_once()
    {
        await using var server = await SyncServer.StartAsync(new Dictionary<string, string?> { ["Agent:Mode"] = "demo" });
        var id = await server.NewConversationAsync();
        await using var socket = await TestSocket.ConnectAsync(server.SocketUri(id));
        await socket.ReceiveJsonAsync();
        await server.SendAsync(HttpMethod.Post, $"/api/conversations/{id}/events", new { role = "user", content = new[] { new { type = "text", text = "later please" } }, run = false });
        Assert.Equal("MessageEvent", (await socket.ReceiveJsonAsync()).Kind());
        Assert.Equal(200, (await server.SendAsync(HttpMethod.Post, $"/api/conversations/{id}/run")).Status);
        var frames = await socket.ReceiveUntilAsync(f => f.IsStatus("finished"));

        Assert.Equal(["ConversationStateUpdateEvent", "ActionEvent", "ObservationEvent", "MessageEvent", "ConversationStateUpdateEvent"],
            frames.Select(f => f.Kind()));
        Assert.Contains("You said: \"later please\"", frames[3].GetProperty("llm_message").GetProperty("content")[0].GetProperty("text").GetString());
    }

    [Fact]
    public async Task With_an_external_agent_a_message_only_starts_the_run()
    {
        await using var server = await SyncServer.StartAsync(new Dictionary<string, string?> { ["Agent:Mode"] = "external" });
        var id = await server.NewConversationAsync();
        await server.SendAsync(HttpMethod.Post, $"/api/conversations/{id}/events", new { role = "user", content = new[] { new { type = "text", text = "go" } }, run = true });
        await using var socket = await TestSocket.ConnectAsync(server.SocketUri(id, "resend_all=true"));
        await socket.ReceiveJsonAsync();
        Assert.Equal("MessageEvent", (await socket.ReceiveJsonAsync()).Kind());
        Assert.True((await socket.ReceiveJsonAsync()).IsStatus("running"));
        // The next frame is whatever we ingest next, proving the server appended nothing on its own.
        var next = await server.IngestAsync(id, [SyncServer.Message("from the real agent")]);
        Assert.Equal(next[0].GetProperty("id").GetString(), (await socket.ReceiveJsonAsync()).Id());
    }

    [Fact]
    public async Task A_misconfigured_agent_mode_stops_start_up_with_a_clear_error()
    {
        var e = await Assert.ThrowsAsync<InvalidOperationException>(() =>
            SyncServer.StartAsync(new Dictionary<string, string?> { ["Agent:Mode"] = "clever" }));
        Assert.Contains("Agent:Mode", e.Message);
    }
}
