using System.Diagnostics;
using Akka.Sync.Gateway.Tests.Support;
using Xunit;
using Xunit.Abstractions;

namespace Akka.Sync.Gateway.Tests;

/// <summary>
/// Slow consumer, measured (issue 5): a V1 client that stops reading is closed with 1013 once its bounded queue fills,
/// fast clients on the same conversation keep a low ingest→receive latency and get everything, the server's memory
/// stays bounded by the queue bound rather than by what was ingested, the slow client resumes with after_event_id and
/// loses nothing, and every socket, pump, connection actor and thread is released afterwards.
/// </summary>
[Trait("Category", "Stress"), Collection(StressCollection.Name)]
public sealed class SlowConsumerTests(ITestOutputHelper output)
{
    private const int QueueBytes = 1024 * 1024, TailEvents = 200, EventBytes = 8 * 1024;
    private const int Batches = 300, PerBatch = 20, FastClients = 4, Total = Batches * PerBatch;

    [Fact]
    public async Task A_client_that_stops_reading_is_closed_with_1013_while_fast_ones_are_unaffected_and_memory_stays_bounded()
    {
        await using var server = await SyncServer.StartAsync(new Dictionary<string, string?>
        {
            ["Limits:MaxQueuedBytes"] = QueueBytes.ToString(),
            ["Limits:TailEvents"] = TailEvents.ToString(),
            ["Limits:CloseTimeout"] = "00:02:00", // the slow client reads its close only once the run is over
            // This measures what the sockets cost; the entity's snapshots (a copy of the index every 1,000 events)
            // are kept out of the run.
            ["Limits:SnapshotEvery"] = "100000",
        });
        var id = await server.NewConversationAsync();
        var baseline = await ResourceBaseline.CaptureAsync(server, output);

        var slow = await TestSocket.ConnectAsync(server.SocketUri(id), kernelReceiveBuffer: 8192);
        await slow.ReceiveJsonAsync(); // full_state; from here on it reads nothing until the end
        var fast = new List<TestSocket>();
        for (var i = 0; i < FastClients; i++)
        {
            fast.Add(await TestSocket.ConnectAsync(server.SocketUri(id)));
            await fast[i].ReceiveJsonAsync();
        }
        // Fast clients read as fast as they can; each ingest waits until all of them have the batch before the
        // next, so a fast client is never more than one batch behind whatever the machine's load.
        using var batchReceived = new SemaphoreSlim(0);
        var readers = fast.Select(socket => Task.Run(() => ReadTimed(socket, batchReceived))).ToArray();

        // Ingest 47 MiB (far more than the slow socket's queue and kernel buffers hold), sampling the live heap.
        var heapBefore = GC.GetTotalMemory(forceFullCollection: true);
        var workingSetBefore = Environment.WorkingSet;
        var samples = new List<long>();
        var padding = new string('p', EventBytes);
        var stored = new List<string>(Total);
        var ingestStarted = Stopwatch.GetTimestamp();
        for (var b = 0; b < Batches; b++)
        {
            var events = Enumerable.Range(0, PerBatch).Select(_ => SyncServer.Message($"{Stopwatch.GetTimestamp()}|{padding}")).ToArray();
            stored.AddRange((await server.IngestAsync(id, events)).Select(i => i.GetProperty("id").GetString()!));
            for (var f = 0; f < FastClients; f++)
            {
                if (await batchReceived.WaitAsync(TimeSpan.FromSeconds(60))) continue;
                foreach (var failed in readers.Where(r => r.IsFaulted)) await failed; // its own exception says why
                Assert.Fail($"a fast client did not get batch {b}");
            }
            if (b % 20 == 19) samples.Add(GC.GetTotalMemory(forceFullCollection: true));
        }
        var workingSetPeakDelta = Environment.WorkingSet - workingSetBefore;
        var heapPeak = samples.Max();
        output.WriteLine($"heap samples (MiB): {string.Join(" ", samples.Select(m => (m / (1024.0 * 1024)).ToString("F1")))}");
        output.WriteLine($"ingest: {Total} events in {Stopwatch.GetElapsedTime(ingestStarted).TotalSeconds:F1} s");

        // Fast clients: everything, in order, never closed, with a bounded ingest→receive latency.
        var latencies = new List<double>();
        foreach (var reader in readers)
        {
            var (ids, ms) = await reader;
            Assert.Equal(stored, ids);
            latencies.AddRange(ms);
        }
        latencies.Sort();
        double Percentile(double p) => latencies[Math.Min(latencies.Count - 1, (int)Math.Ceiling(p * latencies.Count) - 1)];
        output.WriteLine($"fast clients: {latencies.Count} deliveries, ingest→receive p50 {Percentile(0.50):F1} ms, " +
                         $"p99 {Percentile(0.99):F1} ms, max {latencies[^1]:F1} ms");
        Assert.True(Percentile(0.99) < 2000, $"p99 {Percentile(0.99):F1} ms");
        Assert.All(fast, f => Assert.Equal(System.Net.WebSockets.WebSocketState.Open, f.State));

        // Memory: bounded by the slow socket's queue and the conversation's tail, not by the 47 MiB ingested. What
        // grows per event is small and known: the entity's index entry (~250 B) and this test's own id lists (~550 B).
        const long ingested = (long)Total * EventBytes;
        const long bound = 4L * QueueBytes + 2L * TailEvents * EventBytes + Total * 1024L + 8L * 1024 * 1024;
        var heapGrowth = heapPeak - heapBefore;
        output.WriteLine($"managed heap: {Mb(heapBefore)} before, {Mb(heapPeak)} peak (+{Mb(heapGrowth)}; bound {Mb(bound)}, " +
                         $"ingested {Mb(ingested)}); working set {(workingSetPeakDelta >= 0 ? "+" : "")}{Mb(workingSetPeakDelta)}");
        Assert.True(bound < ingested / 2, "the bound must be well below what an unbounded queue would hold");
        Assert.True(heapGrowth < bound, $"heap grew {Mb(heapGrowth)}, bound {Mb(bound)}");

        // The slow client was cut off with 1013 after a prefix, and resumes from its last event losing nothing.
        var beforeClose = (await slow.ReadUntilClosedAsync(TimeSpan.FromSeconds(60))).Select(f => f.Id()).ToList();
        Assert.Equal(1013, (int)slow.CloseStatus!);
        Assert.Equal("slow consumer", slow.CloseDescription);
        output.WriteLine($"slow client: {beforeClose.Count} events before its 1013, then resumed");
        Assert.True(beforeClose.Count < stored.Count / 2, "the slow socket should have been cut off early");
        Assert.Equal(stored.Take(beforeClose.Count), beforeClose);
        var query = beforeClose.Count == 0 ? "resend_all=true" : $"after_event_id={beforeClose[^1]}";
        var rest = new List<string>();
        await using (var resumed = await TestSocket.ConnectAsync(server.SocketUri(id, query)))
        {
            await resumed.ReceiveJsonAsync();
            for (var i = beforeClose.Count; i < stored.Count; i++) rest.Add((await resumed.ReceiveJsonAsync()).Id());
        }
        Assert.Equal(stored, beforeClose.Concat(rest));

        await slow.DisposeAsync();
        foreach (var f in fast) await f.DisposeAsync();
        await baseline.AssertReturnedAsync();
    }

    /// <summary>Reads every event, noting each one's ingest→receive time from the Stopwatch timestamp its text starts with.</summary>
    private static async Task<(List<string> Ids, List<double> Ms)> ReadTimed(TestSocket socket, SemaphoreSlim batchReceived)
    {
        var ids = new List<string>(Total);
        var ms = new List<double>(Total);
        for (var i = 0; i < Total; i++)
        {
            var frame = await socket.ReceiveJsonAsync(TimeSpan.FromSeconds(60));
            var received = Stopwatch.GetTimestamp();
            ids.Add(frame.Id());
            var text = frame.GetProperty("llm_message").GetProperty("content")[0].GetProperty("text").GetString()!;
            ms.Add(Stopwatch.GetElapsedTime(long.Parse(text.AsSpan(0, text.IndexOf('|'))), received).TotalMilliseconds);
            if ((i + 1) % PerBatch == 0) batchReceived.Release();
        }
        return (ids, ms);
    }

    private static string Mb(long bytes) => $"{bytes / (1024.0 * 1024):F1} MiB";
}
