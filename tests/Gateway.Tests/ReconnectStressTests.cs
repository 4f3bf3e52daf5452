using Akka.Sync.Gateway.Tests.Support;
using Xunit;
using Xunit.Abstractions;

namespace Akka.Sync.Gateway.Tests;

/// <summary>
/// Bounded stress: sockets that keep dropping and resuming with <c>after_event_id</c> while events pour in
/// end with every event exactly once, in order, and leave no socket, pump, connection actor or thread behind.
/// </summary>
[Trait("Category", "Stress"), Collection(StressCollection.Name)]
public sealed class ReconnectStressTests(ITestOutputHelper output)
{
    [Fact]
    public async Task Five_sockets_reconnecting_with_after_event_id_during_2000_ingested_events_each_get_every_event_once_in_order()
    {
        await using var server = await SyncServer.StartAsync();
        var id = await server.NewConversationAsync();
        var baseline = await ResourceBaseline.CaptureAsync(server, output);
        const int total = 2000;
        var seed = Environment.TickCount;
        output.WriteLine($"seed {seed}");
        using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(60));

        var ingest = Task.Run(async () =>
        {
            var ids = new List<string>(total);
            for (var b = 0; b < total / 20; b++)
            {
                var items = await server.IngestAsync(id, Enumerable.Range(0, 20).Select(i => SyncServer.Message($"{b}.{i}")).ToArray());
                ids.AddRange(items.Select(i => i.GetProperty("id").GetString()!));
            }
            return ids;
        });

        var readers = Enumerable.Range(0, 5).Select(n =>
            ResumingReader.ReadAllAsync(server, id, total, new Random(seed + n), 300, deadline.Token)).ToArray();

        var stored = await ingest;
        var results = await Task.WhenAll(readers);
        foreach (var (received, reconnects) in results)
        {
            output.WriteLine($"{reconnects} connections");
            Assert.Equal(stored, received);
        }
        await baseline.AssertReturnedAsync();
    }
}
