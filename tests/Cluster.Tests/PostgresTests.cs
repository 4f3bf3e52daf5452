using System.Net.Http.Json;
using System.Net.WebSockets;
using System.Text;
using System.Text.Json;
using Akka.Sync.Cluster.Tests.Support;
using Xunit;
using Xunit.Abstractions;

namespace Akka.Sync.Cluster.Tests;

/// <summary>The PostgreSQL journal: what is acknowledged survives every node, and an outage loses nothing.</summary>
public sealed class PostgresTests(ITestOutputHelper output)
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(90);

    [Fact]
    public async Task Every_acknowledged_event_is_present_after_every_node_is_killed_and_the_cluster_restarted()
    {
        await using var postgres = await PostgresServer.StartAsync();
        var conversations = new List<(string Id, IngestWriter Writer)>();
        // A short in-memory tail: the reads below (event search pages, socket replay) come from PostgreSQL itself.
        var shortTail = new Dictionary<string, string> { ["Limits:TailEvents"] = "20" };
        await using (var cluster = await TestCluster.StartAsync(postgres, 3, shortTail))
        {
            // Six conversations spread over the nodes, each written through a different node than it was created on.
            for (var i = 0; i < 6; i++)
            {
                var creator = cluster.Nodes[i % 3];
                var id = await TestCluster.CreateConversationAsync(creator, $"conversation {i}");
                var via = cluster.Nodes[(i + 1) % 3];
                conversations.Add((id, IngestWriter.Start(() => via, id, 30, 5, Bound)));
            }
            await Task.WhenAll(conversations.Select(c => c.Writer.Completion)).WaitAsync(Bound);
            foreach (var node in cluster.Nodes) node.Kill(); // every node at once, no shutdown hooks
        }

        await using var restarted = await TestCluster.StartAsync(postgres, 3, shortTail);
        var total = 0;
        foreach (var (id, writer) in conversations)
        {
            var stored = await TestCluster.StoredIdsAsync(restarted.Nodes[0], id);
            Assert.Equal(writer.Acked, stored);
            total += stored.Count;
            var info = await restarted.Nodes[2].GetJsonAsync($"/api/conversations/{id}");
            Assert.StartsWith("conversation ", info.GetProperty("title").GetString());
            // A new socket replays the whole log (150 events, 20 in memory) from the journal, in order.
            await using var socket = await EventStream.OpenAsync(id, restarted.Nodes[1].SocketUri(id, "resend_all=true"));
            await socket.WaitForCountAsync(stored.Count, Bound);
            Assert.Equal(stored, socket.Ids);
        }
        var count = await restarted.Nodes[1].GetJsonAsync("/api/conversations/count");
        Assert.True(count.GetInt32() == 6, $"the directory counts {count.GetInt32()} conversations, not 6");
        output.WriteLine($"{total} acknowledged events in 6 conversations, all stored in order after every node was killed and a new cluster formed");
    }

    [Fact]
    [Trait("Category", "Stress")]
    public async Task While_PostgreSQL_is_down_ingest_answers_503_sockets_stay_up_and_service_resumes_when_it_is_back()
    {
        await using var postgres = await PostgresServer.StartAsync();
        await using var cluster = await TestCluster.StartAsync(postgres, 1);
        var node = cluster.Nodes[0];
        var id = await TestCluster.CreateConversationAsync(node);
        var before = IngestWriter.Start(() => node, id, 2, 5, Bound);
        await before.Completion;
        await using var stream = await EventStream.OpenAsync("socket", node.SocketUri(id, "resend_all=true"));
        await stream.WaitForCountAsync(10, Bound);

        await postgres.StopAsync();
        var refused = new List<string>();
        for (var i = 0; i < 3; i++)
        {
            var eventId = Guid.NewGuid().ToString("D");
            using var response = await node.Http.PostAsJsonAsync($"/api/conversations/{id}/agent/events",
                new[] { new { kind = "MessageEvent", source = "agent", id = eventId } });
            output.WriteLine($"during the outage: {(int)response.StatusCode} {await response.Content.ReadAsStringAsync()}");
            Assert.Equal(503, (int)response.StatusCode);
            refused.Add(eventId);
        }
        var ready = await node.Http.GetAsync("/ready");
        Assert.Equal(503, (int)ready.StatusCode);
        Assert.Equal(WebSocketState.Open, stream.State);

        await postgres.StartAgainAsync();
        // Service resumes (the first attempts may meet the entity still restarting; the writer retries, bounded).
        var after = IngestWriter.Start(() => node, id, 2, 5, Bound);
        await after.Completion.WaitAsync(Bound);
        var stored = await TestCluster.StoredIdsAsync(node, id);
        Assert.Equal(before.Acked.Concat(after.Acked), stored);
        Assert.DoesNotContain(stored, refused.Contains);
        // The socket stayed open through the outage and carries on with exactly the stored log.
        await stream.WaitForCountAsync(stored.Count, Bound);
        Assert.Equal(stored, stream.Ids);
        Assert.Equal(WebSocketState.Open, stream.State);
        await node.WaitReadyAsync(Bound);
        output.WriteLine($"outage: 3 ingests refused with 503 and not stored; PostgreSQL back → first acknowledgement after {after.Batches[0].Acked.TotalSeconds:F1} s; " +
                         $"after it {after.Acked.Length} more acknowledged " +
                         $"({after.FailedAttempts} attempts retried while the conversation recovered); the socket never closed");
    }
}
