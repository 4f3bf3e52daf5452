using System.Text.Json;
using Akka.Sync.Gateway.Tests.Support;
using Xunit;

namespace Akka.Sync.Gateway.Tests;

/// <summary>
/// CONTRACT §3 bounds: inbound frame size (1009), and events larger than the outbound queue bound. Slow consumers
/// (1013, then resume) are measured in <see cref="SlowConsumerTests"/>.
/// </summary>
[Trait("Category", "Stress")]
public sealed class SocketLimitTests
{
    [Fact]
    public async Task A_frame_over_the_size_limit_closes_with_1009_and_stores_nothing()
    {
        await using var server = await SyncServer.StartAsync(new Dictionary<string, string?> { ["Limits:MaxFrameBytes"] = "4096" });
        var id = await server.NewConversationAsync();
        await using var socket = await TestSocket.ConnectAsync(server.SocketUri(id));
        await socket.ReceiveJsonAsync();

        var text = new string('x', 5000);
        await socket.SendTextAsync($$"""{"role":"user","content":[{"type":"text","text":"{{text}}"}]}""");

        Assert.Empty(await socket.ReadUntilClosedAsync());
        Assert.Equal(1009, (int)socket.CloseStatus!);
        var (_, count) = await server.GetAsync($"/api/conversations/{id}/events/count");
        Assert.Equal(0, count.GetInt64());
    }

    [Fact]
    public async Task A_frame_within_the_default_limit_is_accepted()
    {
        await using var server = await SyncServer.StartAsync();
        var id = await server.NewConversationAsync();
        await using var socket = await TestSocket.ConnectAsync(server.SocketUri(id));
        await socket.ReceiveJsonAsync();

        var text = new string('y', 512 * 1024);
        await socket.SendTextAsync($$"""{"role":"user","content":[{"type":"text","text":"{{text}}"}]}""");

        var message = await socket.ReceiveJsonAsync();
        Assert.Equal(text, message.GetProperty("llm_message").GetProperty("content")[0].GetProperty("text").GetString());
    }

    [Fact]
    public async Task An_event_larger_than_the_queue_byte_bound_is_replayed_and_streamed_live_not_refused()
    {
        // The defaults: a 16 MiB body may carry an event larger than a socket's 4 MiB queue bound.
        await using var server = await SyncServer.StartAsync();
        var id = await server.NewConversationAsync();
        await using var live = await TestSocket.ConnectAsync(server.SocketUri(id));
        await live.ReceiveJsonAsync();
        // The live socket keeps reading (a fast client); it must not be taken for a slow one.
        var liveIds = Task.Run(async () =>
        {
            var ids = new List<string>();
            for (var i = 0; i < 5; i++) ids.Add((await live.ReceiveJsonAsync(TimeSpan.FromSeconds(30))).Id());
            return ids;
        });
        var big = new string('b', 5 * 1024 * 1024);

        var stored = new List<string>();
        async Task Ingest(params string[] texts) =>
            stored.AddRange((await server.IngestAsync(id, texts.Select(t => SyncServer.Message(t)).ToArray())).Select(i => i.GetProperty("id").GetString()!));
        await Ingest("before");
        await Ingest(big, "after"); // one batch: the small event is published right behind the large one

        await using var replayed = await TestSocket.ConnectAsync(server.SocketUri(id, "resend_all=true"));
        Assert.Equal("full_state", (await replayed.ReceiveJsonAsync()).GetProperty("key").GetString());
        var frames = new List<System.Text.Json.JsonElement>();
        for (var i = 0; i < 3; i++) frames.Add(await replayed.ReceiveJsonAsync());
        Assert.Equal(stored, frames.Select(f => f.Id()));
        Assert.Equal(big, frames[1].GetProperty("llm_message").GetProperty("content")[0].GetProperty("text").GetString());

        // Both sockets go on with live events, the large one included.
        await Ingest(big, "later");
        Assert.Equal(stored[3..], [(await replayed.ReceiveJsonAsync()).Id(), (await replayed.ReceiveJsonAsync()).Id()]);
        Assert.Equal(stored, await liveIds);
    }
}
