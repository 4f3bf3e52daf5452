using System.Text.Json;
using Akka.Sync.Gateway.Tests.Support;
using Akka.Sync.Gateway.Transport;
using Microsoft.Extensions.DependencyInjection;
using Xunit;
using Xunit.Abstractions;

namespace Akka.Sync.Gateway.Tests.Edges;

/// <summary>
/// CONTRACT §3, everything a client can make the server hold is bounded: a client that makes the server answer but never
/// reads, one that sends without waiting for answers, one whose TCP window stays full. Each ends with a named close (or
/// its commands refused), the server's memory stays bounded (printed), and the other sockets on the conversation get
/// every event.
/// </summary>
[Trait("Category", "Stress")]
[Collection(StressCollection.Name)] // process-wide figures (metrics, heap): not beside other servers
public sealed class BoundedClientTests(ITestOutputHelper output)
{
    private static long Heap() => GC.GetTotalMemory(forceFullCollection: true);

    private static async Task<List<long>> ReadSeqs(TestSocket socket, int count)
    {
        var ids = new List<long>();
        while (ids.Count < count)
        {
            var e = await socket.ReceiveJsonAsync();
            if (e.GetProperty("kind").GetString() == "MessageEvent") ids.Add(e.GetProperty("llm_message").GetProperty("content")[0].GetProperty("text").GetString()!.Length);
        }
        return ids;
    }

    /// <summary>
    /// The leak check's actor count sees each socket's connection actor (a system actor since bench/NOTES.md "Issue 15,
    /// eleventh sitting"): one more while a socket is open, back when it closes. Fails if the count missed them, which
    /// would let every scenario here leak connection actors unnoticed.
    /// </summary>
    [Fact]
    public async Task The_leak_checks_actor_count_sees_each_sockets_connection_actor()
    {
        await using var server = await SyncServer.StartAsync();
        var id = await server.NewConversationAsync();
        var baseline = await ResourceBaseline.CaptureAsync(server, output);
        var system = server.Services.GetRequiredService<Akka.Actor.ActorSystem>();
        await using (var socket = await TestSocket.ConnectAsync(server.SocketUri(id)))
        {
            await socket.ReceiveJsonAsync();
            await using var second = await TestSocket.ConnectAsync(server.SocketUri(id));
            await second.ReceiveJsonAsync();
            Assert.Equal(baseline.Before.Actors + 2, await ResourceBaseline.Actors(system));
            await second.CloseAsync();
            await socket.CloseAsync();
        }
        await baseline.AssertReturnedAsync(processWide: false);
    }

    [Fact]
    public async Task A_client_that_floods_bad_frames_and_never_reads_is_closed_1013_with_bounded_memory_and_others_are_unaffected()
    {
        await using var server = await SyncServer.StartAsync(new Dictionary<string, string?>
        {
            ["Limits:MaxQueuedFrames"] = "200", ["Limits:MaxQueuedBytes"] = "65536",
        });
        var id = await server.NewConversationAsync();
        var baseline = await ResourceBaseline.CaptureAsync(server, output);
        await using var other = await TestSocket.ConnectAsync(server.SocketUri(id));
        await other.ReceiveJsonAsync();
        await using var flood = await TestSocket.ConnectAsync(server.SocketUri(id), kernelReceiveBuffer: 4096);
        await flood.ReceiveJsonAsync();
        var before = Heap();

        // Every bad frame makes the server write an error frame back; this client never reads them.
        for (var i = 0; i < 60_000 && flood.State == System.Net.WebSockets.WebSocketState.Open; i++)
        {
            try { await flood.SendTextAsync("x"); }
            catch (System.Net.WebSockets.WebSocketException) { break; }
        }
        var grown = Heap() - before;
        output.WriteLine($"server+test heap grew {grown / 1024.0 / 1024.0:F1} MiB while 60,000 error frames were owed to a client that does not read");
        Assert.True(grown < 32L * 1024 * 1024, $"heap grew {grown} bytes");

        await server.IngestAsync(id, Enumerable.Range(0, 10).Select(i => SyncServer.Message(new string('m', i + 1))).ToArray());
        Assert.Equal(Enumerable.Range(1, 10).Select(i => (long)i), await ReadSeqs(other, 10));

        var tail = await flood.ReadUntilClosedRawAsync(TimeSpan.FromSeconds(30));
        Assert.Equal(1013, (int)flood.CloseStatus!);
        Assert.Equal("slow consumer", flood.CloseDescription);
        output.WriteLine($"the flooding client read {tail.Count} frames before its close");
        await flood.AnswerCloseAsync();
        await other.CloseAsync();
        await baseline.AssertReturnedAsync();
    }

    [Fact]
    public async Task A_client_that_sends_10000_messages_without_waiting_has_the_excess_refused_busy_and_only_what_was_applied_is_stored()
    {
        await using var server = await SyncServer.StartAsync(new Dictionary<string, string?> { ["Limits:MaxCommandsInFlight"] = "8" });
        var id = await server.NewConversationAsync();
        var baseline = await ResourceBaseline.CaptureAsync(server, output);
        await using var watcher = await TestSocket.ConnectAsync(server.SocketUri(id));
        await watcher.ReceiveJsonAsync();
        await using var sender = await TestSocket.ConnectAsync(server.SocketUri(id));
        await sender.ReceiveJsonAsync();
        var before = Heap();

        var applied = 0;
        var busy = 0;
        var reading = Task.Run(async () =>
        {
            while (applied + busy < 10_000)
            {
                var e = await sender.ReceiveJsonAsync(TimeSpan.FromSeconds(60));
                switch (e.GetProperty("kind").GetString())
                {
                    case "MessageEvent": applied++; break;
                    case "ConversationErrorEvent" when e.GetProperty("code").GetString() == "busy": busy++; break;
                }
            }
        });
        for (var i = 0; i < 10_000; i++) await sender.SendTextAsync($$"""{"role":"user","content":[{"type":"text","text":"m{{i}}"}],"run":false}""");
        await reading.WaitAsync(TimeSpan.FromSeconds(120));
        output.WriteLine($"10,000 frames sent without waiting: {applied} applied, {busy} refused busy; heap grew {(Heap() - before) / 1024.0 / 1024.0:F1} MiB");

        Assert.True(busy > 0, "nothing was refused busy");
        Assert.True(applied >= 8, "fewer than one window applied");
        var stored = (await server.GetAsync($"/api/conversations/{id}/events/count?kind=MessageEvent&source=user")).Body.GetInt32();
        Assert.Equal(applied, stored);
        var watched = 0;
        while (watched < applied)
            if ((await watcher.ReceiveJsonAsync()).GetProperty("kind").GetString() == "MessageEvent") watched++;
        Assert.Equal(System.Net.WebSockets.WebSocketState.Open, sender.State);
        await sender.CloseAsync();
        await watcher.CloseAsync();
        await baseline.AssertReturnedAsync();
    }

    [Fact]
    public async Task A_client_whose_tcp_window_stays_full_is_aborted_at_the_send_deadline_and_leaves_nothing_behind()
    {
        var logs = new LogCapture();
        await using var server = await SyncServer.StartAsync(new Dictionary<string, string?>
        {
            ["Limits:SendTimeout"] = "00:00:01", ["Limits:CloseTimeout"] = "00:01:00",
            ["Limits:MaxQueuedBytes"] = "67108864", ["Limits:MaxBodyBytes"] = "16777216",
        }, logs: logs);
        var budget = server.Services.GetRequiredService<SocketBudget>();
        var id = await server.NewConversationAsync();
        var baseline = await ResourceBaseline.CaptureAsync(server, output);
        await using var other = await TestSocket.ConnectAsync(server.SocketUri(id));
        await other.ReceiveJsonAsync();
        await using var stuck = await TestSocket.ConnectAsync(server.SocketUri(id), kernelReceiveBuffer: 4096);
        await stuck.ReceiveJsonAsync(); // and never again
        var before = Heap();

        // 12 MiB of events: more than the stuck client's window and the server's socket buffers (4 MiB here) together.
        var pad = new string('p', 64 * 1024);
        for (var b = 0; b < 20; b++)
            await server.IngestAsync(id, Enumerable.Range(0, 10).Select(_ => SyncServer.Message(pad)).ToArray());
        var received = 0;
        while (received < 200)
            if ((await other.ReceiveJsonAsync()).GetProperty("kind").GetString() == "MessageEvent") received++;

        var line = await logs.WaitForAsync(l => l.Contains("send timeout"), TimeSpan.FromSeconds(20));
        output.WriteLine(line);
        for (var i = 0; i < 200 && budget.Open != 1; i++) await Task.Delay(50); // the session's teardown, bounded
        Assert.Equal(1, budget.Open);
        Assert.True(budget.SendTimeouts >= 1);
        output.WriteLine($"heap grew {(Heap() - before) / 1024.0 / 1024.0:F1} MiB for 12.5 MiB sent to two sockets");
        await other.CloseAsync();
        await baseline.AssertReturnedAsync();
    }
}
