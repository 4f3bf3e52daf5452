using System.Net;
using System.Net.Http.Json;
using System.Net.Sockets;
using System.Text.Json;
using Akka.Sync.Cluster.Tests.Support;
using Xunit;
using Xunit.Abstractions;

namespace Akka.Sync.Cluster.Tests;

/// <summary>
/// Seed nodes from Akka.Discovery, the way Kubernetes deployments form a cluster, driven here by the config
/// discovery method (the same join code path; only the lookup differs): nodes with no seed list find each other
/// and form one cluster.
/// </summary>
public sealed class DiscoveryTests(ITestOutputHelper output)
{
    [Fact]
    public async Task Two_nodes_without_seed_nodes_find_each_other_through_discovery_and_form_one_cluster()
    {
        await using var postgres = await PostgresServer.StartAsync();
        // Discovery lists the remoting endpoints, so they are known before the nodes start: ports the kernel has just handed out.
        var ports = new[] { FreePort(), FreePort() };
        var endpoints = ports.Select(p => $"127.0.0.1:{p}").ToArray();
        var nodes = new List<NodeProcess>();
        try
        {
            foreach (var (port, i) in ports.Select((p, i) => (p, i)))
            {
                var settings = new Dictionary<string, string>
                {
                    ["Cluster:Discovery"] = "Config",
                    ["Cluster:Port"] = port.ToString(),
                    ["Cluster:RequiredContactPoints"] = "2",
                    ["Cluster:DiscoveryEndpoints:0"] = endpoints[0],
                    ["Cluster:DiscoveryEndpoints:1"] = endpoints[1],
                };
                nodes.Add(await NodeProcess.StartAsync($"node{i + 1}", postgres.ConnectionString, [], settings));
            }
            using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(90));
            foreach (var node in nodes) await node.WaitReadyAsync(TimeSpan.FromSeconds(90));
            while (true)
            {
                var views = await Task.WhenAll(nodes.Select(n => n.GetJsonAsync("/cluster")));
                var members = views.Select(v => v.GetProperty("members").EnumerateArray()
                    .Where(m => m.GetProperty("status").GetString() == "up").Select(m => m.GetProperty("address").GetString()).Order().ToArray()).ToArray();
                if (members.All(m => m.Length == 2) && members[0].SequenceEqual(members[1]))
                {
                    output.WriteLine($"one cluster: {string.Join(", ", members[0])}");
                    break;
                }
                await Task.Delay(200, cts.Token);
            }
            // And it serves: a conversation created on one node is read on the other.
            var id = await TestCluster.CreateConversationAsync(nodes[0], "bootstrapped");
            var read = await nodes[1].GetJsonAsync($"/api/conversations/{id}");
            Assert.Equal("bootstrapped", read.GetProperty("title").GetString());
        }
        finally
        {
            foreach (var node in nodes) await node.DisposeAsync();
        }
    }

    private static int FreePort()
    {
        var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var port = ((IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop();
        return port;
    }
}
