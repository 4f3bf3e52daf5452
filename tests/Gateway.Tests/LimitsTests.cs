using Akka.Sync.Gateway.Tests.Support;
using Xunit;

namespace Akka.Sync.Gateway.Tests;

/// <summary>Bounds on abuse: failed-auth attempts per address (429) and sockets per conversation and per node (1013).</summary>
[Trait("Category", "Stress")]
public sealed class LimitsTests
{
    [Fact]
    public async Task Past_the_failed_auth_budget_every_surface_answers_429_even_with_a_good_key()
    {
        await using var server = await SyncServer.StartAsync(new Dictionary<string, string?>
        {
            ["Auth:SessionApiKeys:0"] = "good",
            ["Limits:FailedAuthPerMinute"] = "3",
        });
        var id = (await server.CreateConversationAsync(key: "good")).GetProperty("id").GetString()!;
        for (var i = 0; i < 3; i++)
            Assert.Equal(401, (await server.GetAsync($"/api/conversations/{id}", "guess" + i)).Status);

        var (status, body) = await server.GetAsync($"/api/conversations/{id}", "good");
        Assert.Equal(429, status);
        Assert.Contains("too many failed authentication attempts", body.GetProperty("detail").GetString());
        Assert.Equal(429, (await server.GetAsync("/api/conversations/search", "good")).Status);
        Assert.Equal(429, await TestSocket.ConnectRefusedAsync(server.SocketUri(id, "session_api_key=good")));
        await using var v0 = NodeSocketIoClient.Start(server.BaseUri, id, sessionApiKey: "good");
        Assert.Contains("too many failed authentication attempts", (await v0.UntilAsync("connect_error")).Last().GetProperty("message").GetString());
        // Health stays reachable: it needs no key.
        Assert.Equal(200, (int)(await server.Http.GetAsync("/ready")).StatusCode);
    }

    [Fact]
    public async Task An_open_server_has_no_auth_budget_to_exhaust()
    {
        await using var server = await SyncServer.StartAsync(new Dictionary<string, string?> { ["Limits:FailedAuthPerMinute"] = "1" });
        var id = await server.NewConversationAsync();
        for (var i = 0; i < 3; i++) Assert.Equal(200, (await server.GetAsync($"/api/conversations/{id}", "anything")).Status);
    }

    [Fact]
    public async Task A_conversation_past_its_socket_limit_refuses_more_with_1013_until_one_leaves()
    {
        await using var server = await SyncServer.StartAsync(new Dictionary<string, string?> { ["Limits:MaxSocketsPerConversation"] = "2" });
        var id = await server.NewConversationAsync();
        var first = await TestSocket.ConnectAsync(server.SocketUri(id));
        await using var second = await TestSocket.ConnectAsync(server.SocketUri(id));
        await first.ReceiveJsonAsync();
        await second.ReceiveJsonAsync();

        await using (var third = await TestSocket.ConnectAsync(server.SocketUri(id)))
        {
            Assert.Empty(await third.ReadUntilClosedAsync());
            Assert.Equal(1013, (int)third.CloseStatus!);
            Assert.Equal("too many sockets on this conversation", third.CloseDescription);
        }

        await first.DisposeAsync();
        // The entity frees the slot when it sees the connection actor stop: try until it has (bounded).
        var deadline = DateTime.UtcNow.AddSeconds(15);
        while (true)
        {
            await using var again = await TestSocket.ConnectAsync(server.SocketUri(id));
            var text = await again.ReceiveTextAsync();
            if (text is not null) break;
            Assert.True(DateTime.UtcNow < deadline, "the slot was never freed");
        }
    }

    [Fact]
    public async Task A_node_past_its_socket_limit_refuses_more_with_1013_whatever_the_conversation()
    {
        await using var server = await SyncServer.StartAsync(new Dictionary<string, string?> { ["Limits:MaxSocketsPerNode"] = "2" });
        var a = await server.NewConversationAsync();
        var b = await server.NewConversationAsync();
        await using var one = await TestSocket.ConnectAsync(server.SocketUri(a));
        await using var two = await TestSocket.ConnectAsync(server.SocketUri(b));
        await one.ReceiveJsonAsync();
        await two.ReceiveJsonAsync();

        await using var three = await TestSocket.ConnectAsync(server.SocketUri(b));
        Assert.Empty(await three.ReadUntilClosedAsync());
        Assert.Equal(1013, (int)three.CloseStatus!);
        Assert.Equal("too many sockets on this node", three.CloseDescription);
    }
}
