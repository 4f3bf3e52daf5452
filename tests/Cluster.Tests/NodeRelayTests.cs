using Akka.Sync.Cluster.Tests.Support;
using Xunit;
using Xunit.Abstractions;

namespace Akka.Sync.Cluster.Tests;

/// <summary>
/// Issue 14 §1: a write crosses the network once per node that has sockets for its conversation, not once per socket
/// (each node's relay fans it out locally), and every socket still gets every event once, in order — across a kill -9
/// of the node hosting the conversation and of a node whose relay was receiving it. Clients on a killed node resume on
/// another node with <c>after_event_id</c>, as the contract asks.
/// </summary>
public sealed class NodeRelayTests(ITestOutputHelper output)
{
    private const int SocketsPerNode = 4;
    private const int SteadyWrites = 40;
    private const string RemotePublishes = "akka_sync_publishes_remote_received_total";
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(120);

    [Fact]
    public async Task A_write_crosses_once_per_node_with_sockets_and_every_socket_gets_every_event_once_in_order_across_losing_the_host_and_a_relays_node()
    {
        await using var postgres = await PostgresServer.StartAsync();
        await using var cluster = await TestCluster.StartAsync(postgres, 3);
        var (node1, node2, node3) = (cluster.Nodes[0], cluster.Nodes[1], cluster.Nodes[2]);
        var id = await TestCluster.CreateConversationHostedOnAsync(node1, node3);
        var clients = new List<ResumingEventStream>();
        // A client whose node is lost resumes on the next running node (in start order).
        NodeProcess Next(NodeProcess from)
        {
            var nodes = cluster.Nodes.ToList();
            var at = nodes.IndexOf(from);
            return nodes.Skip(at + 1).Concat(nodes.Take(at + 1)).First(n => !n.HasExited);
        }
        NodeProcess AnyRunning() => cluster.Running.First();
        try
        {
            foreach (var node in new[] { node1, node2, node3 })
                for (var i = 0; i < SocketsPerNode; i++)
                    clients.Add(await ResumingEventStream.OpenAsync($"{node.Name}/socket{i}", node, id, Next));

            // 1. Steady: one event per write; count the publish messages each node received from another node.
            var before = await Task.WhenAll(cluster.Nodes.Select(n => n.MetricAsync(RemotePublishes)));
            var steady = IngestWriter.Start(() => node1, id, SteadyWrites, 1, Bound);
            await steady.Completion.WaitAsync(Bound);
            foreach (var c in clients) await c.WaitForCountAsync(SteadyWrites, Bound);
            var after = await Eventually.HoldsAsync(() => Task.WhenAll(cluster.Nodes.Select(n => n.MetricAsync(RemotePublishes))),
                v => v[0] - before[0] >= SteadyWrites && v[1] - before[1] >= SteadyWrites, Bound,
                v => $"remote publishes per node: {string.Join(", ", v ?? [])}");
            var received = after.Zip(before, (a, b) => a - b).ToArray();
            var perWrite = received.Sum() / SteadyWrites;
            output.WriteLine($"{SteadyWrites} writes of one event to a conversation on {node3.Name}, {SocketsPerNode} sockets on each of 3 nodes: " +
                             $"remote publish messages per write {perWrite:0.00} (per node: {string.Join(", ", received.Select(r => (r / SteadyWrites).ToString("0.00")))}); " +
                             $"one per socket on another node would be {2 * SocketsPerNode}");
            Assert.Equal([SteadyWrites, SteadyWrites, 0], received);

            // 2. The host is lost mid-burst: the conversation moves; relays re-attach; node 3's clients resume elsewhere.
            var lost = new List<string> { node3.Name };
            var writer = IngestWriter.Start(AnyRunning, id, 90, 5, Bound);
            await writer.WhenAckedAsync(150).WaitAsync(Bound);
            node3.Kill();
            var killedAt = writer.Now;
            await writer.Completion.WaitAsync(Bound);
            output.WriteLine($"host {node3.Name} killed; the conversation took writes again {writer.UnavailableAfter(killedAt).TotalSeconds:F1} s later " +
                             $"on {await TestCluster.HostOfAsync(node1, id)}");

            // 3. Back to three nodes, then a node whose relay receives the conversation's writes is lost mid-burst.
            await cluster.StartNodeAsync("node3-restarted", [node1.Address, node2.Address]);
            await cluster.WaitMembersUpAsync(3, TimeSpan.FromSeconds(60));
            var host = await TestCluster.HostOfAsync(node1, id);
            var relayNode = new[] { node1, node2 }.First(n => n.Address != host);
            lost.Add(relayNode.Name);
            var second = IngestWriter.Start(AnyRunning, id, 90, 5, Bound);
            await second.WhenAckedAsync(150).WaitAsync(Bound);
            relayNode.Kill();
            await second.Completion.WaitAsync(Bound);
            output.WriteLine($"relay node {relayNode.Name} killed (host {host}); the conversation never stopped taking writes " +
                             $"(longest wait for one batch {second.LongestWait.TotalSeconds:F1} s)");

            // Every acknowledged write stored once, in order; every client has all of them once, in order.
            var acked = steady.Acked.Concat(writer.Acked).Concat(second.Acked).ToArray();
            var stored = await TestCluster.StoredIdsAsync(AnyRunning(), id);
            Assert.Equal(acked, stored);
            foreach (var c in clients)
            {
                await c.WaitForCountAsync(stored.Count, Bound);
                Assert.Equal(stored, c.Ids);
                // Only a client whose node was killed lost its socket; the others stayed open through both losses.
                Assert.All(c.Closes, close => Assert.Contains(close.Node, lost));
            }
            var resumed = clients.Where(c => c.Closes.Count > 0).ToArray();
            output.WriteLine($"{stored.Count} events stored; each of {clients.Count} clients received all of them once, in order; " +
                             $"{resumed.Length} resumed on another node after their node was killed " +
                             $"(resume to first frame: {string.Join(", ", resumed.SelectMany(c => c.ResumeTimes).Select(t => t.TotalSeconds.ToString("F1")))} s), " +
                             $"the {clients.Count - resumed.Length} others were never closed");
            Assert.Equal(2 * SocketsPerNode, resumed.Length);
            AssertNoSerializerWarnings(cluster);
        }
        finally
        {
            foreach (var c in clients) await c.DisposeAsync();
        }
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
