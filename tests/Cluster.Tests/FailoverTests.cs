using System.Net.WebSockets;
using Akka.Sync.Cluster.Tests.Support;
using Xunit;
using Xunit.Abstractions;

namespace Akka.Sync.Cluster.Tests;

/// <summary>
/// Three node processes on loopback sharing a real PostgreSQL. Sockets on nodes 1 and 2 watch a conversation
/// hosted on node 3 while an agent ingests through node 1; node 3 is then lost. Every socket must end with every
/// acknowledged event exactly once, in order, without ever being closed, and the conversation must take new
/// events again on a surviving node within a bounded time.
/// </summary>
public sealed class FailoverTests(ITestOutputHelper output)
{
    private const int Batches = 120;
    private const int BatchSize = 5;
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(120);

    /// <summary>Akka's cluster lines at Info (unreachable, downed, removed), for the failover timeline.</summary>
    private static readonly Dictionary<string, string> AkkaInfoLog = new() { ["Logging:LogLevel:Akka.Actor.ActorSystem"] = "Information" };

    [Fact]
    public async Task Killing_the_node_that_hosts_a_conversation_loses_and_duplicates_nothing_and_sockets_elsewhere_stay_open()
    {
        await WhileIngestingOnNode3(async (cluster, writer, id, probed) =>
        {
            var (node1, node2, node3) = (cluster.Nodes[0], cluster.Nodes[1], cluster.Nodes[2]);
            // A second conversation on node 3, written every 200 ms by a client that does not wait: when it takes writes again.
            await using var probe = AvailabilityProbe.Start(() => node1, probed, TimeSpan.FromMilliseconds(200), Bound);
            var killedUtc = DateTime.UtcNow;
            node3.Kill(); // SIGKILL mid-burst: no leave, no hand-off (returns once the process is gone)
            var killedAt = writer.Now;
            var probeKilledAt = probe.Now;
            await writer.Completion.WaitAsync(Bound);
            var accepted = await Eventually.HoldsAsync(() => Task.FromResult(probe.AcceptedAgainAfter(probeKilledAt)), a => a is not null, Bound,
                _ => "the probed conversation never took a write again");

            // Failover time: from the kill to the first write accepted again (the probe), and as the agent saw it (the
            // acknowledgement of its first batch sent after the kill, each attempt waiting up to Limits:AskTimeout).
            var firstAckAfterKill = writer.UnavailableAfter(killedAt);
            output.WriteLine($"node 3 killed after {writer.AckTimes.Count(t => t <= killedAt) * BatchSize} events were acknowledged; " +
                             $"writes accepted again {accepted!.Value.TotalSeconds:F1} s after the kill; the agent's next batch was acknowledged " +
                             $"{firstAckAfterKill.TotalSeconds:F1} s after it (longest wait for one batch {writer.LongestWait.TotalSeconds:F1} s, " +
                             $"{writer.FailedAttempts} failed attempts retried)");
            output.WriteLine(Timeline.Of([node1, node2], killedUtc, accepted.Value));
            Assert.Contains(await TestCluster.HostOfAsync(node1, id), new[] { node1.Address, node2.Address });
            // Issue 14 §2: under 10 s with the shipped settings (13 runs on 2 shared cores: 7.2-9.9 s, median 7.8 s; the
            // 9.9 s at load average 12). The bound keeps 1 s for a loaded runner; the old settings took 17.8 s.
            Assert.True(accepted.Value < TimeSpan.FromSeconds(11), $"writes were accepted again only {accepted.Value.TotalSeconds:F1} s after the kill");
            Assert.True(firstAckAfterKill < TimeSpan.FromSeconds(30), $"the agent's next batch was acknowledged only {firstAckAfterKill.TotalSeconds:F1} s after the kill");
        }, AkkaInfoLog);
    }

    [Fact]
    public async Task A_rolling_restart_of_the_node_that_hosts_a_conversation_hands_it_over_with_no_gap_or_duplicate()
    {
        await WhileIngestingOnNode3(async (cluster, writer, _, _) =>
        {
            var (node1, node2, node3) = (cluster.Nodes[0], cluster.Nodes[1], cluster.Nodes[2]);
            var stoppedAt = writer.Now;
            await node3.TerminateAsync(TimeSpan.FromSeconds(60)); // SIGTERM: CoordinatedShutdown leaves and hands shards over
            var leftAfter = writer.Now - stoppedAt;
            Assert.Equal(0, node3.ExitCode);
            var restarted = await cluster.StartNodeAsync("node3-restarted", [node1.Address, node2.Address]);
            await cluster.WaitMembersUpAsync(3, TimeSpan.FromSeconds(60));
            await writer.Completion.WaitAsync(Bound);

            var pause = writer.AckTimes.Zip(writer.AckTimes.Skip(1), (a, b) => b - a).Max();
            var handOver = writer.UnavailableAfter(stoppedAt);
            output.WriteLine($"node 3 left in {leftAfter.TotalSeconds:F1} s; the first batch sent after SIGTERM was acknowledged {handOver.TotalSeconds:F2} s after it; " +
                             $"longest gap between acknowledgements {pause.TotalSeconds:F2} s " +
                             $"({writer.FailedAttempts} failed attempts retried); restarted node {restarted.Address} joined");
            Assert.True(pause < TimeSpan.FromSeconds(15), $"hand-over stalled ingest for {pause}");
        });
    }

    /// <summary>
    /// Three nodes; a conversation hosted on node 3; two sockets on each of nodes 1 and 2; an agent ingesting through
    /// node 1. A third of the way in, <paramref name="disrupt"/> runs (and waits for the writer); then every socket must
    /// hold the whole log once, in order, still open, and no node may have logged about serialization.
    /// </summary>
    private async Task WhileIngestingOnNode3(Func<TestCluster, IngestWriter, string, string, Task> disrupt, IReadOnlyDictionary<string, string>? settings = null)
    {
        await using var postgres = await PostgresServer.StartAsync();
        await using var cluster = await TestCluster.StartAsync(postgres, 3, settings);
        var (node1, node2, node3) = (cluster.Nodes[0], cluster.Nodes[1], cluster.Nodes[2]);
        var id = await TestCluster.CreateConversationHostedOnAsync(node1, node3);
        var probed = await TestCluster.CreateConversationHostedOnAsync(node1, node3);
        var streams = await OpenStreams(id, node1, node2);
        try
        {
            var writer = IngestWriter.Start(() => node1, id, Batches, BatchSize, Bound);
            await writer.WhenAckedAsync(Batches * BatchSize / 3).WaitAsync(Bound);
            await disrupt(cluster, writer, id, probed);
            await AssertEveryoneHasTheWholeLog(writer, streams, node1, id);
            AssertNoSerializerWarnings(cluster);
        }
        finally
        {
            foreach (var s in streams) await s.DisposeAsync();
        }
    }

    /// <summary>Two sockets on each of the given nodes, replaying from the start.</summary>
    private static async Task<List<EventStream>> OpenStreams(string id, params NodeProcess[] nodes)
    {
        var streams = new List<EventStream>();
        foreach (var node in nodes)
            for (var i = 0; i < 2; i++)
                streams.Add(await EventStream.OpenAsync($"{node.Name}/socket{i}", node.SocketUri(id, "resend_all=true")));
        return streams;
    }

    private async Task AssertEveryoneHasTheWholeLog(IngestWriter writer, List<EventStream> streams, NodeProcess via, string id)
    {
        var acked = writer.Acked;
        Assert.Equal(Batches * BatchSize, acked.Length);
        // Stored exactly once each, in the order acknowledged, and nothing else (retries were deduplicated).
        var stored = await TestCluster.StoredIdsAsync(via, id);
        Assert.Equal(acked, stored);
        foreach (var stream in streams)
        {
            await stream.WaitForCountAsync(stored.Count, TimeSpan.FromSeconds(60));
            Assert.Equal(stored, stream.Ids);
            Assert.Equal(WebSocketState.Open, stream.State);
        }
        output.WriteLine($"{stored.Count} events acknowledged and stored; each of {streams.Count} sockets received all of them once, in order, and is still open");
    }

    private static void AssertNoSerializerWarnings(TestCluster cluster)
    {
        foreach (var node in cluster.Nodes)
        {
            var bad = node.Output.Where(l => l.Contains("serializ", StringComparison.OrdinalIgnoreCase)).ToArray();
            Assert.True(bad.Length == 0, $"{node.Name} logged about serialization:\n{string.Join('\n', bad)}");
        }
    }
}
