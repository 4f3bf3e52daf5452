using Akka.Sync.Gateway.Tests.Support;
using Xunit;

namespace Akka.Sync.Gateway.Tests;

/// <summary>CONTRACT §3 and §8: socket authentication with server keys and per-conversation keys.</summary>
[Trait("Category", "Stress")]
public sealed class SocketAuthTests : IAsyncLifetime
{
    private const string ServerKey = "server-key-for-tests";
    private SyncServer _server = null!;

    public async Task InitializeAsync() => _server = await SyncServer.StartAsync(new Dictionary<string, string?>
    {
        ["Auth:SessionApiKeys:0"] = ServerKey,
        ["Limits:AuthTimeout"] = "00:00:01",
    });

    public async Task DisposeAsync() => await _server.DisposeAsync();

    private async Task<(string Id, string Key)> NewConversation()
    {
        var created = await _server.CreateConversationAsync(key: ServerKey);
        return (created.GetProperty("id").GetString()!, created.GetProperty("session_api_key").GetString()!);
    }

    [Fact]
    public async Task A_wrong_key_in_the_query_is_refused_with_403_on_the_upgrade()
    {
        var (id, _) = await NewConversation();
        Assert.Equal(403, await TestSocket.ConnectRefusedAsync(_server.SocketUri(id, "session_api_key=wrong")));
    }

    [Fact]
    public async Task A_wrong_key_in_the_header_is_refused_with_403_on_the_upgrade()
    {
        var (id, _) = await NewConversation();
        Assert.Equal(403, await TestSocket.ConnectRefusedAsync(_server.SocketUri(id), headerKey: "wrong"));
    }

    [Theory]
    [InlineData(ServerKey + " ")]
    [InlineData("SERVER-KEY-FOR-TESTS")]
    [InlineData("")]
    public async Task Near_miss_server_keys_are_refused(string key)
    {
        var (id, _) = await NewConversation();
        if (key.Length == 0)
        {
            // An empty query key counts as no key: the socket waits for an auth frame and then fails.
            await using var socket = await TestSocket.ConnectAsync(_server.SocketUri(id, "session_api_key="));
            Assert.Empty(await socket.ReadUntilClosedAsync());
            Assert.Equal(4001, (int)socket.CloseStatus!);
            return;
        }
        Assert.Equal(403, await TestSocket.ConnectRefusedAsync(_server.SocketUri(id, "session_api_key=" + Uri.EscapeDataString(key))));
    }

    [Fact]
    public async Task The_server_key_in_the_query_opens_the_socket()
    {
        var (id, _) = await NewConversation();
        await using var socket = await TestSocket.ConnectAsync(_server.SocketUri(id, "session_api_key=" + ServerKey));
        Assert.Equal("full_state", (await socket.ReceiveJsonAsync()).GetProperty("key").GetString());
    }

    [Fact]
    public async Task A_conversation_key_in_the_header_opens_that_conversation()
    {
        var (id, key) = await NewConversation();
        await using var socket = await TestSocket.ConnectAsync(_server.SocketUri(id), headerKey: key);
        Assert.Equal("full_state", (await socket.ReceiveJsonAsync()).GetProperty("key").GetString());
    }

    [Fact]
    public async Task A_conversation_key_opens_no_other_conversation()
    {
        var (_, keyOfA) = await NewConversation();
        var (idB, _) = await NewConversation();
        Assert.Equal(403, await TestSocket.ConnectRefusedAsync(_server.SocketUri(idB, "session_api_key=" + keyOfA)));
    }

    [Fact]
    public async Task Without_a_key_a_first_auth_frame_opens_the_socket()
    {
        var (id, key) = await NewConversation();
        await using var socket = await TestSocket.ConnectAsync(_server.SocketUri(id, "resend_all=true"));

        await socket.SendTextAsync($$"""{"type":"auth","session_api_key":"{{key}}"}""");

        Assert.Equal("full_state", (await socket.ReceiveJsonAsync()).GetProperty("key").GetString());
    }

    [Theory]
    [InlineData("""{"type":"auth","session_api_key":"wrong"}""")]
    [InlineData("""{"role":"user","content":[{"type":"text","text":"sneaking in"}]}""")]
    [InlineData("""{"type":"auth"}""")]
    [InlineData("garbage")]
    public async Task Without_a_key_any_other_first_frame_closes_with_4001_and_stores_nothing(string firstFrame)
    {
        var (id, _) = await NewConversation();
        await using var socket = await TestSocket.ConnectAsync(_server.SocketUri(id));

        await socket.SendTextAsync(firstFrame);

        Assert.Empty(await socket.ReadUntilClosedAsync());
        Assert.Equal(4001, (int)socket.CloseStatus!);
        Assert.Equal("Authentication failed", socket.CloseDescription);
        var (_, count) = await _server.GetAsync($"/api/conversations/{id}/events/count", ServerKey);
        Assert.Equal(0, count.GetInt64());
    }

    [Fact]
    public async Task Without_a_key_silence_past_the_auth_timeout_closes_with_4001()
    {
        var (id, _) = await NewConversation();
        await using var socket = await TestSocket.ConnectAsync(_server.SocketUri(id));

        Assert.Empty(await socket.ReadUntilClosedAsync());
        Assert.Equal(4001, (int)socket.CloseStatus!);
    }
}
