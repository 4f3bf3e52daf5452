using System.Net.Http.Json;
using System.Text.Json;
using Akka.Sync.Cluster.Tests.Support;
using Xunit;
using Xunit.Abstractions;

namespace Akka.Sync.Cluster.Tests;

/// <summary>
/// Replay chunks are bounded in bytes, not only in count: a socket on one node replays a conversation hosted on
/// another whose events are large (100 KB, 5 MB). Bounded by count alone, a chunk of such events passes the remoting
/// frame size, remoting drops the reply, and the socket waits for it forever.
/// </summary>
public sealed class LargeEventReplayTests(ITestOutputHelper output)
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(120);

    private static async Task<List<string>> IngestAsync(NodeProcess via, string id, int count, int bytes, int perBatch)
    {
        var ids = new List<string>();
        var pad = new string('x', bytes);
        for (var done = 0; done < count; done += perBatch)
        {
            var batch = Enumerable.Range(done, Math.Min(perBatch, count - done)).Select(i => new
            {
                kind = "MessageEvent", source = "agent", id = Guid.NewGuid().ToString("D"),
                llm_message = new { role = "assistant", content = new[] { new { type = "text", text = pad } } },
            }).ToArray();
            using var response = await via.Http.PostAsJsonAsync($"/api/conversations/{id}/agent/events", batch);
            Assert.True(response.IsSuccessStatusCode, await response.Content.ReadAsStringAsync());
            ids.AddRange(batch.Select(e => e.id));
        }
        return ids;
    }

    [Fact]
    public async Task A_socket_on_another_node_replays_events_of_100_KB_and_5_MB_whole_and_in_order()
    {
        await using var postgres = await PostgresServer.StartAsync();
        // The in-memory tail is short, so most of the replay comes from PostgreSQL; chunks stay at the default bounds.
        await using var cluster = await TestCluster.StartAsync(postgres, 2, new Dictionary<string, string> { ["Limits:TailEvents"] = "50" });
        var (node1, node2) = (cluster.Nodes[0], cluster.Nodes[1]);
        var id = await TestCluster.CreateConversationHostedOnAsync(node1, node2);

        // 600 × 100 KB: 500 of them (the count bound) would be a 50 MB chunk against a 32 MiB remoting frame.
        var ids = await IngestAsync(node1, id, 600, 100 * 1024, 100);
        // 8 × 5 MB: 40 MB in all; each chunk must still cross.
        ids.AddRange(await IngestAsync(node1, id, 8, 5 * 1024 * 1024, 2));

        var started = DateTime.UtcNow;
        await using var socket = await EventStream.OpenAsync("node1/replay", node1.SocketUri(id, "resend_all=true"));
        await socket.WaitForCountAsync(ids.Count, Bound);
        output.WriteLine($"a socket on {node1.Name} replayed {ids.Count} events ({600 * 100 / 1024.0 + 40:F0} MB) hosted on {node2.Name} in {(DateTime.UtcNow - started).TotalSeconds:F1} s");
        Assert.Equal(ids, socket.Ids);
        Assert.Equal(System.Net.WebSockets.WebSocketState.Open, socket.State);
    }
}
