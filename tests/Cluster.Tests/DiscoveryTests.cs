using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using Akka.Sync.Cluster.Tests.Support;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;
using Xunit;
using Xunit.Abstractions;

namespace Akka.Sync.Cluster.Tests;

/// <summary>
/// Nodes with no seed list find each other through discovery and form one cluster: with Akka.Discovery's config
/// method, and with the Kubernetes API (here a stand-in API server on loopback that answers the pod list the way the
/// real one does).
/// </summary>
public sealed class DiscoveryTests(ITestOutputHelper output)
{
    [Fact]
    public async Task Two_nodes_without_seed_nodes_find_each_other_through_config_discovery_and_form_one_cluster()
    {
        // Discovery lists the remoting endpoints, so they are known before the nodes start: ports the kernel has just handed out.
        var ports = new[] { FreePort(), FreePort() };
        await FormsOneCluster(ports, port => new Dictionary<string, string>
        {
            ["Cluster:Discovery"] = "Config",
            ["Cluster:Port"] = port.ToString(),
            ["Cluster:RequiredContactPoints"] = "2",
            ["Cluster:DiscoveryEndpoints:0"] = $"127.0.0.1:{ports[0]}",
            ["Cluster:DiscoveryEndpoints:1"] = $"127.0.0.1:{ports[1]}",
        });
    }

    [Fact]
    public async Task Two_pods_find_each_other_through_the_Kubernetes_API_and_ignore_pods_not_running()
    {
        var ports = new[] { FreePort(), FreePort() };
        var requests = new ConcurrentQueue<string>();
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.Logging.ClearProviders();
        await using var api = builder.Build();
        api.MapGet("/api/v1/namespaces/{ns}/pods", (HttpRequest request) =>
        {
            requests.Enqueue(request.Path + request.QueryString);
            // Two running pods of the deployment, one pod still pending and one terminating: only the first two count.
            return Results.Text(PodList(("127.0.0.1", ports[0], "Running", false), ("127.0.0.1", ports[1], "Running", false),
                ("127.0.0.9", 4053, "Pending", false), ("127.0.0.8", 4053, "Running", true)), "application/json");
        });
        await api.StartAsync();
        var apiUrl = api.Urls.Single();

        await FormsOneCluster(ports, port => new Dictionary<string, string>
        {
            ["Cluster:Discovery"] = "Kubernetes",
            ["Cluster:KubernetesApiUrl"] = apiUrl,
            ["Cluster:KubernetesNamespace"] = "chat",
            ["Cluster:Port"] = port.ToString(),
            ["Cluster:RequiredContactPoints"] = "2",
        });
        Assert.Contains("/api/v1/namespaces/chat/pods?labelSelector=app%3Dakka-sync", requests);
        await api.StopAsync();
    }

    private async Task FormsOneCluster(int[] ports, Func<int, Dictionary<string, string>> settings)
    {
        await using var postgres = await PostgresServer.StartAsync();
        var nodes = new List<NodeProcess>();
        try
        {
            for (var i = 0; i < ports.Length; i++)
                nodes.Add(await NodeProcess.StartAsync($"node{i + 1}", postgres.ConnectionString, [], settings(ports[i])));
            foreach (var node in nodes) await node.WaitReadyAsync(TimeSpan.FromSeconds(90));
            var members = await Eventually.HoldsAsync(
                async () => (await Task.WhenAll(nodes.Select(n => n.GetJsonAsync("/cluster"))))
                    .Select(v => v.GetProperty("members").EnumerateArray().Where(m => m.GetProperty("status").GetString() == "up")
                        .Select(m => m.GetProperty("address").GetString()!).Order().ToArray()).ToArray(),
                views => views.All(m => m.Length == ports.Length && m.SequenceEqual(views[0])),
                TimeSpan.FromSeconds(90),
                views => "no single cluster formed: " + string.Join(" | ", (views ?? []).Select(m => string.Join(",", m))));
            output.WriteLine($"one cluster: {string.Join(", ", members[0])}");
            // And it serves: a conversation created on one node is read on the other.
            var id = await TestCluster.CreateConversationAsync(nodes[0], "discovered");
            var read = await nodes[1].GetJsonAsync($"/api/conversations/{id}");
            Assert.Equal("discovered", read.GetProperty("title").GetString());
        }
        finally
        {
            foreach (var node in nodes) await node.DisposeAsync();
        }
    }

    private static string PodList(params (string Ip, int Port, string Phase, bool Terminating)[] pods) =>
        System.Text.Json.JsonSerializer.Serialize(new
        {
            kind = "PodList",
            apiVersion = "v1",
            items = pods.Select((p, i) => new
            {
                metadata = new Dictionary<string, object?>
                {
                    ["name"] = $"akka-sync-{i}",
                    ["labels"] = new { app = "akka-sync" },
                    ["deletionTimestamp"] = p.Terminating ? "2026-11-25T00:00:00Z" : null,
                },
                spec = new { containers = new[] { new { name = "akka-sync", ports = new object[]
                {
                    new { name = "http", containerPort = 8000 },
                    new { name = "remoting", containerPort = p.Port },
                } } } },
                status = new { phase = p.Phase, podIP = p.Ip },
            }),
        });

    private static int FreePort()
    {
        var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var port = ((IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop();
        return port;
    }
}
