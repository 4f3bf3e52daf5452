using Akka.Sync.Gateway.Tests.Support;
using Xunit;
using Xunit.Abstractions;

namespace Akka.Sync.Gateway.Tests;

/// <summary>
/// Reconnect storm (issue 5): 200 sockets over 20 conversations drop and resume at random with after_event_id while
/// 20,000 events are ingested. Every socket ends with every event of its conversation exactly once, in order, and the
/// node's open sockets, outbound pumps, connection actors and threads return to their baseline afterwards.
/// </summary>
[Trait("Category", "Stress"), Collection(StressCollection.Name)]
public sealed class ReconnectStormTests(ITestOutputHelper output)
{
    [Fact]
    public async Task Two_hundred_sockets_reconnecting_at_random_during_20000_events_each_get_every_event_once_in_order()
    {
        const int conversations = 20, socketsPer = 10, eventsPer = 1000;
        await using var server = await SyncServer.StartAsync();
        var ids = new List<string>();
        for (var c = 0; c < conversations; c++) ids.Add(await server.NewConversationAsync());
        var baseline = await ResourceBaseline.CaptureAsync(server, output);
        var seed = Environment.TickCount;
        output.WriteLine($"seed {seed}");
        using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(120));

        var ingest = ids.Select(id => Task.Run(async () =>
        {
            var stored = new List<string>(eventsPer);
            for (var b = 0; b < eventsPer / 50; b++)
                stored.AddRange((await server.IngestAsync(id, Enumerable.Range(0, 50).Select(i => SyncServer.Message($"{b}.{i}")).ToArray()))
                    .Select(i => i.GetProperty("id").GetString()!));
            return stored;
        })).ToArray();

        var readers = ids.SelectMany((id, c) => Enumerable.Range(0, socketsPer).Select(async n =>
        {
            var (received, connections) = await ResumingReader.ReadAllAsync(server, id, eventsPer, new Random(seed + c * socketsPer + n), 400, deadline.Token);
            return (Conversation: c, Received: received, Connections: connections);
        })).ToArray();

        var storedByConversation = await Task.WhenAll(ingest);
        var results = await Task.WhenAll(readers);

        foreach (var (conversation, received, _) in results)
            Assert.Equal(storedByConversation[conversation], received);
        output.WriteLine($"{results.Sum(r => r.Connections)} connections in all");
        // No socket, pump or connection actor outlives its socket, and the threads come back.
        await baseline.AssertReturnedAsync();
    }
}
