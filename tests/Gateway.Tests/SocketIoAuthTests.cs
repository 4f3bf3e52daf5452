using Akka.Sync.Gateway.Tests.Support;
using Xunit;

namespace Akka.Sync.Gateway.Tests;

/// <summary>CONTRACT §5 and §8 on the V0 socket: session_api_key, including the literal "null" the frontend sends.</summary>
public sealed class SocketIoAuthTests : IAsyncLifetime
{
    private const string ServerKey = "v0-server-key";
    private SyncServer _server = null!;

    public async Task InitializeAsync() => _server = await SyncServer.StartAsync(new Dictionary<string, string?>
    {
        ["Auth:SessionApiKeys:0"] = ServerKey,
        ["Agent:Mode"] = "demo",
    });

    public async Task DisposeAsync() => await _server.DisposeAsync();

    private async Task<(string Id, string Key)> NewV0()
    {
        var created = await _server.CreateConversationAsync(new { protocol = "v0" }, ServerKey);
        return (created.GetProperty("id").GetString()!, created.GetProperty("session_api_key").GetString()!);
    }

    [Theory]
    [InlineData(null)]        // JS null: the URL carries the literal "null"
    [InlineData("wrong")]
    [InlineData("V0-SERVER-KEY")]   // the server key in another case
    [InlineData("v0-server-key ")]  // the server key with trailing whitespace
    [InlineData("v0-server-ke")]    // truncated
    public async Task A_missing_or_wrong_key_is_refused_with_invalid_session_api_key(string? key)
    {
        var (id, _) = await NewV0();
        await using var client = NodeSocketIoClient.Start(_server.BaseUri, id, sessionApiKey: key);
        var refusal = (await client.UntilAsync("connect_error")).Last();
        Assert.Equal("invalid_session_api_key", refusal.GetProperty("message").GetString());
    }

    [Fact]
    public async Task Another_conversations_key_is_refused()
    {
        var (_, keyOfA) = await NewV0();
        var (idB, _) = await NewV0();
        await using var client = NodeSocketIoClient.Start(_server.BaseUri, idB, sessionApiKey: keyOfA);
        Assert.Equal("invalid_session_api_key", (await client.UntilAsync("connect_error")).Last().GetProperty("message").GetString());
    }

    [Fact]
    public async Task The_conversation_key_or_a_server_key_connects_and_the_demo_agent_answers_in_V0()
    {
        var (id, key) = await NewV0();
        await using (var viaServerKey = NodeSocketIoClient.Start(_server.BaseUri, id, sessionApiKey: ServerKey))
            await viaServerKey.UntilAsync("connect");
        await using var client = NodeSocketIoClient.Start(_server.BaseUri, id, sessionApiKey: key);
        await client.UntilAsync("connect");

        await client.EmitAsync("oh_user_action", new { action = "message", args = new { content = "hi demo" } });
        var events = NodeSocketIoClient.Events(await client.UntilAsync(l =>
            l.GetProperty("type").GetString() == "event" && l.GetProperty("data").TryGetProperty("extras", out var x)
            && x.TryGetProperty("agent_state", out var s) && s.GetString() == "awaiting_user_input"));

        Assert.Equal(["action:message", "observation:agent_state_changed", "action:run", "observation:run", "action:message", "observation:agent_state_changed"],
            events.Select(e => e.TryGetProperty("action", out var a) ? "action:" + a.GetString() : "observation:" + e.GetProperty("observation").GetString()));
        Assert.Equal("agent", events[3].GetProperty("source").GetString()); // the run observation, relabelled live
        Assert.Contains("hi demo", events[4].GetProperty("args").GetProperty("content").GetString());
        Assert.Equal("agent", events[4].GetProperty("source").GetString());
    }
}
