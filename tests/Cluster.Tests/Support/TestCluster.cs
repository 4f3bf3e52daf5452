using System.Net.Http.Json;
using System.Text.Json;

namespace Akka.Sync.Cluster.Tests.Support;

/// <summary>
/// Three (or more) node processes on loopback sharing one PostgreSQL. The first forms the cluster; the others
/// join it as their seed. Disposing kills every node still running.
/// </summary>
public sealed class TestCluster : IAsyncDisposable
{
    private readonly List<NodeProcess> _all = [];
    public PostgresServer Postgres { get; }
    public List<NodeProcess> Nodes { get; } = [];

    private readonly IReadOnlyDictionary<string, string>? _settings;

    private TestCluster(PostgresServer postgres, IReadOnlyDictionary<string, string>? settings)
    {
        Postgres = postgres;
        _settings = settings;
    }

    /// <summary>Starts <paramref name="size"/> nodes; <paramref name="settings"/> go to every node (also ones started later).</summary>
    public static async Task<TestCluster> StartAsync(PostgresServer postgres, int size, IReadOnlyDictionary<string, string>? settings = null)
    {
        var cluster = new TestCluster(postgres, settings);
        try
        {
            var first = await cluster.StartNodeAsync("node1", []);
            // The others start together, as a deployment's replicas do.
            var rest = await Task.WhenAll(Enumerable.Range(2, size - 1).Select(i => cluster.StartNodeAsync($"node{i}", [first.Address])));
            await cluster.WaitMembersUpAsync(size, TimeSpan.FromSeconds(60));
            return cluster;
        }
        catch
        {
            await cluster.DisposeAsync();
            throw;
        }
    }

    /// <summary>Starts a node that joins through the given seeds (none: it forms a cluster of its own).</summary>
    public async Task<NodeProcess> StartNodeAsync(string name, IReadOnlyList<string> seeds)
    {
        var node = await NodeProcess.StartAsync(name, Postgres.ConnectionString, seeds, _settings);
        lock (_all)
        {
            _all.Add(node);
            Nodes.Add(node);
        }
        return node;
    }

    public IEnumerable<NodeProcess> Running => Nodes.Where(n => !n.HasExited);

    /// <summary>Every running node is ready and sees exactly <paramref name="count"/> members Up.</summary>
    public async Task WaitMembersUpAsync(int count, TimeSpan timeout)
    {
        foreach (var node in Running) await node.WaitReadyAsync(timeout);
        await Eventually.HoldsAsync(
            () => Task.WhenAll(Running.Select(async n =>
            {
                var members = (await n.GetJsonAsync("/cluster")).GetProperty("members");
                return members.EnumerateArray().Count(m => m.GetProperty("status").GetString() == "up" && m.GetProperty("reachable").GetBoolean());
            })),
            views => views.All(v => v == count), timeout,
            views => $"members up and reachable per node: {string.Join(", ", views ?? [])}, wanted {count}");
    }

    /// <summary>Which node's address hosts the conversation's shard (asked of <paramref name="via"/>).</summary>
    public static async Task<string?> HostOfAsync(NodeProcess via, string conversationId)
    {
        var body = await via.GetJsonAsync($"/cluster/conversations/{conversationId}");
        var node = body.GetProperty("node");
        return node.ValueKind == JsonValueKind.Null ? null : node.GetString();
    }

    /// <summary>
    /// Creates a conversation and returns its id. A cold cluster (first shard allocation, the journal's tables created
    /// on first use, JIT) may answer 503 to the very first requests; like a careful client, retry those with the same
    /// <c>conversation_id</c>, so a create that timed out but happened is answered 200 instead of made twice (bounded).
    /// </summary>
    public static async Task<string> CreateConversationAsync(NodeProcess via, string? title = null)
    {
        var id = Guid.NewGuid().ToString("N");
        var deadline = DateTime.UtcNow.AddSeconds(60);
        while (true)
        {
            using var created = await via.Http.PostAsJsonAsync("/api/conversations", new { conversation_id = id, title });
            if (created.IsSuccessStatusCode)
            {
                var returned = (await created.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("id").GetString()!;
                return returned == id ? id : throw new InvalidOperationException($"asked for {id}, got {returned}");
            }
            if ((int)created.StatusCode != 503 || DateTime.UtcNow > deadline)
                throw new InvalidOperationException($"create on {via.Name}: {(int)created.StatusCode} {await created.Content.ReadAsStringAsync()}");
            await Task.Delay(200); // client back-off
        }
    }

    /// <summary>Creates conversations through <paramref name="via"/> until one lands on <paramref name="host"/> (bounded).</summary>
    public static async Task<string> CreateConversationHostedOnAsync(NodeProcess via, NodeProcess host)
    {
        for (var attempt = 0; attempt < 60; attempt++)
        {
            var id = await CreateConversationAsync(via);
            if (await HostOfAsync(via, id) == host.Address) return id;
        }
        throw new InvalidOperationException($"no conversation landed on {host.Name} in 60 attempts");
    }

    /// <summary>Every stored event id of a conversation, in seq order, read through the REST API.</summary>
    public static async Task<List<string>> StoredIdsAsync(NodeProcess via, string conversationId)
    {
        var stored = new List<string>();
        string? page = null;
        for (var i = 0; i < 10_000; i++)
        {
            var body = await via.GetJsonAsync(
                $"/api/conversations/{conversationId}/events/search?limit=100" + (page is null ? "" : $"&page_id={page}"));
            stored.AddRange(body.GetProperty("items").EnumerateArray().Select(e => e.GetProperty("id").GetString()!));
            page = body.GetProperty("next_page_id").ValueKind == JsonValueKind.Null ? null : body.GetProperty("next_page_id").GetString();
            if (page is null) return stored;
        }
        throw new InvalidOperationException("too many pages");
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var node in _all) await node.DisposeAsync();
    }
}
