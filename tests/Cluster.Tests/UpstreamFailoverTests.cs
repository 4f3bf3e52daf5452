using System.Diagnostics;
using System.Net.Http.Json;
using System.Net.WebSockets;
using System.Text.Json;
using Akka.Sync.Cluster.Tests.Support;
using Xunit;
using Xunit.Abstractions;

namespace Akka.Sync.Cluster.Tests;

/// <summary>
/// Akka.Sync as the hub in front of an agent server (issue 16), across a node failure: a three-node cluster follows a
/// conversation of an upstream server (a fourth Akka.Sync process with its own journal and a session key) while an
/// agent ingests into the upstream; the node hosting the conversation (and its follower) is killed with SIGKILL. The
/// follower restarts with the entity on a surviving node, decrypts the key with the shared key ring, and resumes from
/// the last stored event: the front ends with exactly the upstream's log, and every socket on the surviving nodes got
/// every event once, in order, without ever being closed.
/// </summary>
public sealed class UpstreamFailoverTests(ITestOutputHelper output)
{
    private const int Batches = 120;
    private const int BatchSize = 5;
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(120);

    [Fact]
    public async Task Killing_the_node_that_follows_an_upstream_conversation_resumes_the_follower_elsewhere_with_no_gap_or_duplicate()
    {
        var key = Convert.ToHexString(System.Security.Cryptography.RandomNumberGenerator.GetBytes(24));
        var scratch = Directory.CreateTempSubdirectory("akka-sync-upstream-failover-");
        try
        {
            await using var postgres = await PostgresServer.StartAsync();
            await using var upstream = await NodeProcess.StartAsync("upstream", postgres.ConnectionString, [], new Dictionary<string, string>
            {
                ["Persistence:Provider"] = "Sqlite",
                ["Persistence:DataDirectory"] = Path.Combine(scratch.FullName, "upstream"),
                ["Auth:SessionApiKeys:0"] = key,
            });
            upstream.Http.DefaultRequestHeaders.Add("X-Session-API-Key", key);
            await upstream.WaitReadyAsync(TimeSpan.FromSeconds(60));
            await using var cluster = await TestCluster.StartAsync(postgres, 3, new Dictionary<string, string>
            {
                // Every node reads the same key ring: the one that binds encrypts, the one that follows decrypts.
                ["Upstream:KeyRingDirectory"] = Path.Combine(scratch.FullName, "key-ring"),
                ["Upstream:KeepAliveInterval"] = "00:00:01",
                ["Upstream:MinBackoff"] = "00:00:00.1",
                ["Upstream:MaxBackoff"] = "00:00:01",
            });
            var (node1, node2, node3) = (cluster.Nodes[0], cluster.Nodes[1], cluster.Nodes[2]);
            var id = await BindHostedOnAsync(upstream, key, node1, node3);
            var streams = new List<EventStream>();
            try
            {
                foreach (var node in new[] { node1, node2 })
                    for (var i = 0; i < 2; i++)
                        streams.Add(await EventStream.OpenAsync($"{node.Name}/socket{i}", node.SocketUri(id, "resend_all=true")));

                // The agent produces at a steady rate (a batch every 40 ms, ~5 s in all) so the kill lands mid-stream.
                var writer = IngestWriter.Start(() => upstream, id, Batches, BatchSize, Bound, pace: TimeSpan.FromMilliseconds(40));
                await writer.WhenAckedAsync(Batches * BatchSize / 3).WaitAsync(Bound);
                await Eventually.HoldsAsync(() => CountAsync(node1, id), n => n > 0, Bound, n => $"front holds {n}");
                var atKill = await CountAsync(node1, id);
                node3.Kill(); // SIGKILL: the entity and its follower vanish mid-stream
                var killed = Stopwatch.StartNew();
                // On a slow machine the follower may have caught up with the whole stream before the kill; then
                // there is nothing more to follow until the user's message below, which proves the resumption.
                var resumed = atKill < Batches * BatchSize
                    ? await Eventually.HoldsAsync(() => CountAsync(node1, id), n => n > atKill, Bound, n => $"front still at {n} (was {atKill} at the kill)")
                    : atKill;
                var resumedAfter = killed.Elapsed;
                await writer.Completion.WaitAsync(Bound);

                // A user's message through a surviving node reaches the upstream once and comes back once.
                using (var sent = await node2.Http.PostAsJsonAsync($"/api/conversations/{id}/events",
                           new { role = "user", content = new[] { new { type = "text", text = "after the failover" } } }))
                    Assert.True(sent.IsSuccessStatusCode, await sent.Content.ReadAsStringAsync());

                var upstreamIds = await TestCluster.StoredIdsAsync(upstream, id);
                Assert.Equal(Batches * BatchSize + 1, upstreamIds.Count);
                Assert.Equal(writer.Acked, upstreamIds.Take(Batches * BatchSize));
                await Eventually.HoldsAsync(() => CountAsync(node1, id), n => n >= upstreamIds.Count, Bound, n => $"front holds {n}/{upstreamIds.Count}");
                Assert.Equal(upstreamIds, await TestCluster.StoredIdsAsync(node1, id));
                foreach (var stream in streams)
                {
                    await stream.WaitForCountAsync(upstreamIds.Count, TimeSpan.FromSeconds(60));
                    Assert.Equal(upstreamIds, stream.Ids);
                    Assert.Equal(WebSocketState.Open, stream.State);
                }
                Assert.Contains(await TestCluster.HostOfAsync(node1, id), new[] { node1.Address, node2.Address });
                var link = (await node1.GetJsonAsync($"/api/conversations/{id}")).GetProperty("upstream");
                Assert.Equal("live", link.GetProperty("state").GetString());
                var resumption = resumed > atKill
                    ? $"the follower resumed on a surviving node {resumedAfter.TotalSeconds:F1} s after the kill (front at {resumed})"
                    : "the follower had caught up before the kill and resumed for the user's message";
                output.WriteLine($"node 3 killed with {atKill} of the upstream's events followed; {resumption}; {upstreamIds.Count} events in the front, " +
                                 $"each once in upstream order; each of {streams.Count} sockets got all of them once, in order, and is still open; link {link}");
            }
            finally
            {
                foreach (var s in streams) await s.DisposeAsync();
            }
        }
        finally
        {
            scratch.Delete(recursive: true);
        }
    }

    private static async Task<long> CountAsync(NodeProcess via, string id) =>
        (await via.GetJsonAsync($"/api/conversations/{id}/events/count")).GetInt64();

    /// <summary>
    /// Starts conversations upstream and binds each through <paramref name="via"/> (with the upstream's key) until one
    /// lands on <paramref name="host"/> (bounded). The front's id is the upstream's.
    /// </summary>
    private static async Task<string> BindHostedOnAsync(NodeProcess upstream, string key, NodeProcess via, NodeProcess host)
    {
        for (var attempt = 0; attempt < 60; attempt++)
        {
            var uid = await TestCluster.CreateConversationAsync(upstream);
            var deadline = DateTime.UtcNow.AddSeconds(60);
            while (true)
            {
                using var bound = await via.Http.PostAsJsonAsync("/api/conversations",
                    new { upstream = new { url = upstream.BaseUri.ToString(), conversation_id = uid, session_api_key = key } });
                if (bound.IsSuccessStatusCode) break;
                // A cold cluster may answer 503 for a moment; the create is idempotent (same id), so retry it.
                if ((int)bound.StatusCode != 503 || DateTime.UtcNow > deadline)
                    throw new InvalidOperationException($"bind: {(int)bound.StatusCode} {await bound.Content.ReadAsStringAsync()}");
                await Task.Delay(200); // client back-off
            }
            if (await TestCluster.HostOfAsync(via, uid) == host.Address) return uid;
        }
        throw new InvalidOperationException($"no bound conversation landed on {host.Name} in 60 attempts");
    }
}
