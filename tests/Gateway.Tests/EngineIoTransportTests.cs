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
    private static readonly TimeSpan PingInterval = TimeSpan.FromMilliseconds(300);
    // Not a multiple of the interval: the server checks on each ping tick, so a close at interval + timeout comes on a
    // tick well clear of it (at 900 ms), and one at any earlier deadline on an earlier tick (600 ms).
    private static readonly TimeSpan PingTimeout = TimeSpan.FromMilliseconds(500);
    private SyncServer _server = null!;
    private readonly LogCapture _logs = new();

    public async Task InitializeAsync() => _server = await SyncServer.StartAsync(new Dictionary<string, string?>
    {
        ["Limits:EngineIoPingInterval"] = "00:00:00.300",
        ["Limits:EngineIoPingTimeout"] = "00:00:00.500",
        ["Limits:MaxFrameBytes"] = "8192",
    }, logs: _logs);

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
        Assert.Equal(500, json.GetProperty("pingTimeout").GetInt32());
        Assert.Equal(8192, json.GetProperty("maxPayload").GetInt32());
    }

    [Fact]
    public async Task A_client_that_answers_pings_stays_and_one_that_does_not_is_closed()
    {
        var id = await NewV0();
        await using var polite = await TestSocket.ConnectAsync(EngineUri(id));
        // Started before the silent socket exists, so it measures at least as long as the server's session has lived.
        var clock = System.Diagnostics.Stopwatch.StartNew();
        await using var silent = await TestSocket.ConnectAsync(EngineUri(id));
        var open = await silent.ReceiveTextAsync();
        var opened = clock.Elapsed;
        Assert.StartsWith("0", open);
        var sid = JsonDocument.Parse(open![1..]).RootElement.GetProperty("sid").GetString();
        Assert.StartsWith("0", await polite.ReceiveTextAsync());

        // The polite client answers every ping; meanwhile the silent one must be dropped.
        var pongs = 0;
        var silentFrames = Task.Run(async () =>
        {
            var frames = await silent.ReadUntilClosedRawAsync(TimeSpan.FromSeconds(15));
            return (Frames: frames, ClosedAt: clock.Elapsed);
        });
        while (!silentFrames.IsCompleted)
        {
            var frame = await polite.ReceiveTextAsync(TimeSpan.FromSeconds(5));
            Assert.Equal("2", frame);
            await polite.SendTextAsync("3");
            pongs++;
        }
        var (frames, closedAt) = await silentFrames;
        Assert.Contains("2", frames);
        Assert.True(pongs >= 2, $"only {pongs} pings before the silent client was closed");
        await polite.SendTextAsync("40");
        Assert.StartsWith("42[\"oh_event\"", await ReceiveNonPing(polite));

        // Engine.IO: the first ping goes out one interval after the open and a client gets the timeout to answer it, so
        // the silent client is closed no sooner than interval + timeout after its session began (the clock started
        // earlier), and within a ping interval (the server's tick) and some slack of it.
        Assert.True(closedAt >= PingInterval + PingTimeout, $"closed {closedAt.TotalMilliseconds:F0} ms after connecting");
        Assert.True(closedAt - opened <= PingInterval + PingTimeout + PingInterval + TimeSpan.FromSeconds(1),
            $"closed {(closedAt - opened).TotalMilliseconds:F0} ms after the open packet");
        Assert.Equal(System.Net.WebSockets.WebSocketCloseStatus.NormalClosure, silent.CloseStatus);
        Assert.Equal("ping timeout", silent.CloseDescription);
        await silent.AnswerCloseAsync(); // the session ends, and logs how it was closed
        var closed = await _logs.WaitForAsync(l => l.Contains($"Socket.IO {sid} closed"), TimeSpan.FromSeconds(15));
        Assert.Contains(": 1000 ping timeout;", closed);
    }

    [Fact]
    public async Task A_ping_from_the_client_is_answered_with_its_data_so_the_upgrade_probe_gets_3probe()
    {
        await using var socket = await TestSocket.ConnectAsync(EngineUri(await NewV0()));
        Assert.StartsWith("0", await socket.ReceiveTextAsync());

        await socket.SendTextAsync("2probe");
        Assert.Equal("3probe", await ReceiveNonPing(socket));
        await socket.SendTextAsync("2");
        Assert.Equal("3", await ReceiveNonPing(socket));
        // The session carries on: connect, replay, ack.
        await socket.SendTextAsync("40");
        Assert.StartsWith("42[\"oh_event\"", await ReceiveNonPing(socket));
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
