using System.Text.Json;
using Akka.Sync.Gateway.Tests.Support;
using Xunit;

namespace Akka.Sync.Gateway.Tests;

/// <summary>
/// Engine.IO v4 on the wire, with a plain WebSocket client playing socket.io-client by hand: the open packet,
/// the server's heartbeat and its timeout, the payload limit and malformed packets.
/// </summary>
public sealed class EngineIoTransportTests : IAsyncLifetime
{
    private SyncServer _server = null!;

    public async Task InitializeAsync() => _server = await SyncServer.StartAsync(new Dictionary<string, string?>
    {
        ["Limits:EngineIoPingInterval"] = "00:00:00.300",
        ["Limits:EngineIoPingTimeout"] = "00:00:00.600",
        ["Limits:MaxFrameBytes"] = "8192",
    });

    public async Task DisposeAsync() => await _server.DisposeAsync();

    private Uri EngineUri(string conversationId) =>
        new($"ws://{_server.BaseUri.Authority}/socket.io/?latest_event_id=-1&conversation_id={conversationId}&providers_set=&session_api_key=null&EIO=4&transport=websocket");

    private async Task<string> NewV0() => (await _server.CreateConversationAsync(new { protocol = "v0" })).GetProperty("id").GetString()!;

    [Fact]
    public async Task The_open_packet_comes_first_with_the_heartbeat_settings_and_payload_limit()
    {
        await using var socket = await TestSocket.ConnectAsync(EngineUri(await NewV0()));
        var open = await socket.ReceiveTextAsync();
        Assert.StartsWith("0{", open);
        var json = JsonDocument.Parse(open![1..]).RootElement;
        Assert.False(string.IsNullOrEmpty(json.GetProperty("sid").GetString()));
        Assert.Equal(0, json.GetProperty("upgrades").GetArrayLength());
        Assert.Equal(300, json.GetProperty("pingInterval").GetInt32());
        Assert.Equal(600, json.GetProperty("pingTimeout").GetInt32());
        Assert.Equal(8192, json.GetProperty("maxPayload").GetInt32());
    }

    [Fact]
    public async Task A_client_that_answers_pings_stays_and_one_that_does_not_is_closed()
    {
        var id = await NewV0();
        await using var silent = await TestSocket.ConnectAsync(EngineUri(id));
        await using var polite = await TestSocket.ConnectAsync(EngineUri(id));
        Assert.StartsWith("0", await silent.ReceiveTextAsync());
        Assert.StartsWith("0", await polite.ReceiveTextAsync());

        // The polite client answers every ping; meanwhile the silent one must be dropped.
        var pongs = 0;
        var silentFrames = silent.ReadUntilClosedRawAsync(TimeSpan.FromSeconds(15));
        while (!silentFrames.IsCompleted)
        {
            var frame = await polite.ReceiveTextAsync(TimeSpan.FromSeconds(5));
            Assert.Equal("2", frame);
            await polite.SendTextAsync("3");
            pongs++;
        }
        Assert.Contains("2", await silentFrames);
        Assert.True(pongs >= 2, $"only {pongs} pings before the silent client was closed");
        await polite.SendTextAsync("40");
        Assert.StartsWith("42[\"oh_event\"", await ReceiveNonPing(polite));
    }

    private static async Task<string> ReceiveNonPing(TestSocket socket)
    {
        while (true)
        {
            var frame = await socket.ReceiveTextAsync(TimeSpan.FromSeconds(5)) ?? throw new InvalidOperationException("closed");
            if (frame == "2") { await socket.SendTextAsync("3"); continue; }
            return frame;
        }
    }

    [Fact]
    public async Task Connect_replays_then_acks_and_malformed_packets_get_an_error_event()
    {
        await using var socket = await TestSocket.ConnectAsync(EngineUri(await NewV0()));
        Assert.StartsWith("0", await socket.ReceiveTextAsync());

        await socket.SendTextAsync("40");
        Assert.StartsWith("42[\"oh_event\",{\"id\":2,", await ReceiveNonPing(socket));
        Assert.Matches("^40\\{\"sid\":\"[A-Za-z0-9_-]+\"\\}$", await ReceiveNonPing(socket));

        foreach (var bad in new[] { "9", "4x", "42{", "42[1]", "451-[\"x\"]" })
        {
            await socket.SendTextAsync(bad);
            var error = await ReceiveNonPing(socket);
            Assert.StartsWith("42[\"oh_event\",{\"error\":true,\"message\":", error);
        }
        await socket.SendTextAsync("""42["oh_user_action",{"action":"message","args":{"content":"still open"}}]""");
        Assert.Contains("still open", await ReceiveNonPing(socket));
    }

    [Fact]
    public async Task A_packet_over_max_payload_closes_with_1009_and_stores_nothing()
    {
        var id = await NewV0();
        await using var socket = await TestSocket.ConnectAsync(EngineUri(id));
        Assert.StartsWith("0", await socket.ReceiveTextAsync());
        await socket.SendTextAsync("40");
        await ReceiveNonPing(socket);
        await ReceiveNonPing(socket);

        await socket.SendTextAsync("""42["oh_user_action",{"action":"message","args":{"content":""" + "\"" + new string('x', 9000) + "\"}}]");

        await socket.ReadUntilClosedRawAsync(TimeSpan.FromSeconds(10));
        Assert.Equal(1009, (int)socket.CloseStatus!);
        Assert.Equal(2, (await _server.GetAsync($"/api/conversations/{id}/events/count")).Body.GetInt64());
    }
}
