using System.Text.Json;
using System.Text.Json.Nodes;
using Xunit;

namespace Akka.Sync.Gateway.Tests.Support;

/// <summary>What the upstream-following tests share: quick link settings, binding, and reading a whole log.</summary>
public static class Following
{
    /// <summary>A front server's link settings, short enough for tests (the defaults are 1 s to 30 s).</summary>
    public static Dictionary<string, string?> FastLink(Dictionary<string, string?>? more = null)
    {
        var settings = new Dictionary<string, string?>
        {
            ["Upstream:MinBackoff"] = "00:00:00.05",
            ["Upstream:MaxBackoff"] = "00:00:00.5",
            ["Upstream:RequestTimeout"] = "00:00:02",
            ["Upstream:KeepAliveInterval"] = "00:00:01",
        };
        foreach (var (k, v) in more ?? []) settings[k] = v;
        return settings;
    }

    /// <summary><c>POST /api/conversations</c> with an <c>upstream</c> binding; returns the created conversation.</summary>
    public static async Task<JsonElement> BindAsync(SyncServer front, string url, string? upstreamConversationId, string? key = null, object? extra = null)
    {
        var body = JsonSerializer.SerializeToNode(extra ?? new { })!.AsObject();
        var upstream = new JsonObject { ["url"] = url };
        if (upstreamConversationId is not null) upstream["conversation_id"] = upstreamConversationId;
        if (key is not null) upstream["session_api_key"] = key;
        body["upstream"] = upstream;
        var (status, created) = await front.SendAsync(HttpMethod.Post, "/api/conversations", body.ToJsonString());
        Assert.True(status is 200 or 201, $"bind: {status} {created}");
        return created;
    }

    /// <summary>Every stored event of a conversation, in order, through <c>events/search</c>.</summary>
    public static async Task<List<JsonElement>> AllEventsAsync(SyncServer server, string conversationId, string? key = null)
    {
        var all = new List<JsonElement>();
        string? page = null;
        for (var i = 0; i < 1000; i++)
        {
            var (status, body) = await server.GetAsync($"/api/conversations/{conversationId}/events/search?limit=100" + (page is null ? "" : $"&page_id={page}"), key);
            Assert.Equal(200, status);
            all.AddRange(body.GetProperty("items").EnumerateArray());
            page = body.GetProperty("next_page_id").ValueKind == JsonValueKind.Null ? null : body.GetProperty("next_page_id").GetString();
            if (page is null) return all;
        }
        throw new InvalidOperationException("too many pages");
    }

    /// <summary>Polls (every 50 ms, bounded) until the conversation holds <paramref name="count"/> events; fails with what it holds.</summary>
    public static Task WaitForCountAsync(SyncServer server, string conversationId, int count, TimeSpan? timeout = null) =>
        WaitUntilAsync(server, $"/api/conversations/{conversationId}/events/count", body => body.GetInt64() >= count, timeout,
            $"{count} events in {conversationId}");

    /// <summary>Polls the link's status until it holds; returns the conversation info.</summary>
    public static async Task<JsonElement> WaitForLinkAsync(SyncServer server, string conversationId, Func<JsonElement, bool> holds, string what, TimeSpan? timeout = null)
    {
        JsonElement info = default;
        await WaitUntilAsync(server, $"/api/conversations/{conversationId}", body =>
        {
            info = body;
            return body.TryGetProperty("upstream", out var up) && up.TryGetProperty("state", out _) && holds(up);
        }, timeout, what);
        return info;
    }

    private static async Task WaitUntilAsync(SyncServer server, string path, Func<JsonElement, bool> holds, TimeSpan? timeout, string what)
    {
        var deadline = DateTime.UtcNow + (timeout ?? TimeSpan.FromSeconds(30));
        JsonElement last = default;
        while (true)
        {
            var (status, body) = await server.GetAsync(path);
            if (status == 200)
            {
                last = body;
                if (holds(body)) return;
            }
            if (DateTime.UtcNow > deadline) throw new TimeoutException($"not within {timeout ?? TimeSpan.FromSeconds(30)}: {what}; last {path}: {last}");
            await Task.Delay(50); // polling another server's state over HTTP, bounded
        }
    }

    /// <summary>The events as stored, compared field by field (any order of fields), with their ids in order.</summary>
    public static void AssertSameLog(IReadOnlyList<JsonNode> expected, IReadOnlyList<JsonElement> actual)
    {
        Assert.Equal(expected.Select(e => (string)e["id"]!), actual.Select(e => e.GetProperty("id").GetString()!));
        for (var i = 0; i < expected.Count; i++)
        {
            var stored = JsonNode.Parse(actual[i].GetRawText());
            Assert.True(JsonNode.DeepEquals(expected[i], stored), $"event {i + 1} differs:\n upstream {expected[i].ToJsonString()}\n stored   {stored!.ToJsonString()}");
        }
    }
}
