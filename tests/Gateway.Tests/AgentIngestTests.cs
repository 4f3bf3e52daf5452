using System.Text;
using System.Text.Json;
using Akka.Sync.Gateway.Tests.Support;
using Xunit;

namespace Akka.Sync.Gateway.Tests;

/// <summary>CONTRACT §7 ours: <c>POST …/agent/events</c>, atomic batches with idempotent ids.</summary>
public sealed class AgentIngestTests : IAsyncLifetime
{
    private SyncServer _server = null!;

    public async Task InitializeAsync() => _server = await SyncServer.StartAsync();

    public async Task DisposeAsync() => await _server.DisposeAsync();

    private string Path(string id) => $"/api/conversations/{id}/agent/events";

    [Fact]
    public async Task A_batch_is_stored_in_input_order_with_contiguous_seqs_and_server_timestamps()
    {
        var id = await _server.NewConversationAsync();
        var given = Guid.NewGuid().ToString("D");
        var items = await _server.IngestAsync(id,
        [
            SyncServer.Message("one"),
            new { kind = "ObservationEvent", source = "environment", id = given.ToUpperInvariant(), timestamp = "1999-01-01T00:00:00", observation = new { kind = "X" } },
            SyncServer.Message("three"),
        ]);

        Assert.Equal([1L, 2L, 3L], items.Select(i => i.GetProperty("seq").GetInt64()));
        Assert.Equal(given, items[1].GetProperty("id").GetString());
        var (_, stored) = await _server.GetAsync($"/api/conversations/{id}/events/{given}");
        Assert.NotEqual("1999-01-01T00:00:00", stored.GetProperty("timestamp").GetString());
        Assert.StartsWith(DateTime.UtcNow.Year.ToString(), stored.GetProperty("timestamp").GetString());
    }

    [Fact]
    public async Task A_repeated_event_id_is_acknowledged_with_its_first_seq_and_not_stored_again()
    {
        var id = await _server.NewConversationAsync();
        var eventId = Guid.NewGuid().ToString("D");
        var first = await _server.IngestAsync(id, [new { kind = "MessageEvent", source = "agent", id = eventId }]);
        await _server.IngestAsync(id, [SyncServer.Message("between")]);

        var retry = await _server.IngestAsync(id, [new { kind = "MessageEvent", source = "agent", id = eventId }, SyncServer.Message("new")]);

        Assert.Equal(first[0].GetProperty("seq").GetInt64(), retry[0].GetProperty("seq").GetInt64());
        Assert.Equal(eventId, retry[0].GetProperty("id").GetString());
        Assert.Equal(3, retry[1].GetProperty("seq").GetInt64());
        Assert.Equal(3, (await _server.GetAsync($"/api/conversations/{id}/events/count")).Body.GetInt64());
    }

    [Fact]
    public async Task Concurrent_retries_of_the_same_ids_store_each_event_once()
    {
        var id = await _server.NewConversationAsync();
        var batch = Enumerable.Range(0, 20).Select(_ => (object)new { kind = "MessageEvent", source = "agent", id = Guid.NewGuid().ToString("D") }).ToArray();

        var replies = await Task.WhenAll(Enumerable.Range(0, 5).Select(_ => _server.IngestAsync(id, batch)));

        Assert.All(replies, r => Assert.Equal(replies[0].Select(i => i.GetProperty("seq").GetInt64()), r.Select(i => i.GetProperty("seq").GetInt64())));
        Assert.Equal(20, (await _server.GetAsync($"/api/conversations/{id}/events/count")).Body.GetInt64());
    }

    [Fact]
    public async Task A_status_update_in_a_batch_changes_the_conversation_status()
    {
        var id = await _server.NewConversationAsync();
        await _server.IngestAsync(id, [new { kind = "ConversationStateUpdateEvent", source = "environment", key = "execution_status", value = "stuck" }]);
        Assert.Equal("stuck", (await _server.GetAsync($"/api/conversations/{id}")).Body.GetProperty("execution_status").GetString());
    }

    [Fact]
    public async Task A_batch_of_1000_is_accepted_and_1001_is_refused_with_413()
    {
        var id = await _server.NewConversationAsync();
        var ok = await _server.IngestAsync(id, Enumerable.Range(0, 1000).Select(i => SyncServer.Message($"{i}")).ToArray());
        Assert.Equal(1000, ok.Length);

        var (status, error) = await _server.SendAsync(HttpMethod.Post, Path(id), Enumerable.Range(0, 1001).Select(i => SyncServer.Message($"{i}")).ToArray());
        Assert.Equal(413, status);
        Assert.Contains("1000", error.GetProperty("detail").GetString());
        Assert.Equal(1000, (await _server.GetAsync($"/api/conversations/{id}/events/count")).Body.GetInt64());
    }

    [Fact]
    public async Task A_body_over_the_size_limit_is_refused_with_413()
    {
        await using var small = await SyncServer.StartAsync(new Dictionary<string, string?> { ["Limits:MaxBodyBytes"] = "1024" });
        var id = await small.NewConversationAsync();
        var (status, _) = await small.SendAsync(HttpMethod.Post, $"/api/conversations/{id}/agent/events", new[] { SyncServer.Message(new string('x', 2000)) });
        Assert.Equal(413, status);
        Assert.Equal(0, (await small.GetAsync($"/api/conversations/{id}/events/count")).Body.GetInt64());
    }

    [Theory]
    [InlineData("[]", "empty")]
    [InlineData("{}", "array")]
    [InlineData("[{", "invalid JSON")]
    [InlineData("""[{"source":"agent"}]""", "kind")]
    [InlineData("""[{"kind":"","source":"agent"}]""", "kind")]
    [InlineData("""[{"kind":"MessageEvent","source":"robot"}]""", "source")]
    [InlineData("""[{"kind":"MessageEvent"}]""", "source")]
    [InlineData("""[{"kind":"MessageEvent","source":"agent","id":"1; DROP TABLE journal"}]""", "UUID")]
    [InlineData("""[{"kind":"MessageEvent","source":"agent","id":42}]""", "UUID")]
    [InlineData("""[{"kind":"ConversationStateUpdateEvent","source":"environment","key":"execution_status","value":"dancing"}]""", "execution_status")]
    [InlineData("""[1]""", "object")]
    public async Task A_bad_batch_is_refused_with_400_and_stores_nothing(string body, string detailPart)
    {
        var id = await _server.NewConversationAsync();
        var (status, error) = await _server.SendAsync(HttpMethod.Post, Path(id), body);
        Assert.Equal(400, status);
        Assert.Contains(detailPart, error.GetProperty("detail").GetString());
        Assert.Equal(0, (await _server.GetAsync($"/api/conversations/{id}/events/count")).Body.GetInt64());
    }

    [Fact]
    public async Task One_bad_event_refuses_the_whole_batch()
    {
        var id = await _server.NewConversationAsync();
        var events = Enumerable.Range(0, 999).Select(i => (object)SyncServer.Message($"{i}")).Append(new { kind = "MessageEvent", source = "nobody" }).ToArray();
        var (status, error) = await _server.SendAsync(HttpMethod.Post, Path(id), events);
        Assert.Equal(400, status);
        Assert.StartsWith("events[999]", error.GetProperty("detail").GetString());
        Assert.Equal(0, (await _server.GetAsync($"/api/conversations/{id}/events/count")).Body.GetInt64());
    }

    [Fact]
    public async Task Deep_nesting_is_refused_with_400()
    {
        var id = await _server.NewConversationAsync();
        var deep = new string('[', 200) + new string(']', 200);
        var (status, _) = await _server.SendAsync(HttpMethod.Post, Path(id), $$"""[{"kind":"X","source":"agent","v":{{deep}}}]""");
        Assert.Equal(400, status);
    }

    [Fact]
    public async Task Ingest_into_an_unknown_conversation_answers_404_and_a_bad_id_400()
    {
        Assert.Equal(404, (await _server.SendAsync(HttpMethod.Post, Path(Guid.NewGuid().ToString("N")), new[] { SyncServer.Message("x") })).Status);
        Assert.Equal(400, (await _server.SendAsync(HttpMethod.Post, Path("nope"), new[] { SyncServer.Message("x") })).Status);
    }

    [Fact]
    public async Task Bodies_read_into_pooled_arrays_chunked_bodies_and_bodies_past_the_pool_each_keep_every_event_as_sent()
    {
        // Eight conversations written at once with bodies of one size: the pool hands each request an array another
        // request just gave back, so an event that still referred to its request's body would be overwritten.
        var ids = await Task.WhenAll(Enumerable.Range(0, 8).Select(_ => _server.NewConversationAsync()));
        var expected = ids.ToDictionary(id => id, _ => new List<string>());

        async Task Post(string id, string[] texts, bool chunked)
        {
            var json = JsonSerializer.Serialize(texts.Select(t => SyncServer.Message(t)).ToArray());
            using var request = new HttpRequestMessage(HttpMethod.Post, Path(id)) { Content = new StringContent(json, Encoding.UTF8, "application/json") };
            if (chunked) request.Headers.TransferEncodingChunked = true; // no Content-Length: read without the pool
            using var response = await _server.Http.SendAsync(request);
            Assert.Equal(200, (int)response.StatusCode);
            expected[id].AddRange(texts);
        }

        await Task.WhenAll(ids.Select(async (id, n) =>
        {
            for (var r = 0; r < 12; r++)
                await Post(id, Enumerable.Range(0, 5).Select(i => $"{n}.{r:D2}.{i}:" + new string((char)('a' + (n * 12 + r) % 26), 200)).ToArray(), chunked: false);
            await Post(id, [$"{n} chunked:" + new string('c', 300)], chunked: true);
            await Post(id, [$"{n} large:" + new string('L', 100_000)], chunked: false); // past the pooled size
            await Post(id, [$"{n} after"], chunked: false);
        }));

        foreach (var id in ids)
        {
            var texts = new List<string>();
            string? page = null;
            do
            {
                var (status, body) = await _server.GetAsync($"/api/conversations/{id}/events/search?limit=100" + (page is null ? "" : $"&page_id={page}"));
                Assert.Equal(200, status);
                foreach (var item in body.GetProperty("items").EnumerateArray())
                    texts.Add(item.GetProperty("llm_message").GetProperty("content")[0].GetProperty("text").GetString()!);
                page = body.GetProperty("next_page_id").ValueKind == JsonValueKind.String ? body.GetProperty("next_page_id").GetString() : null;
            } while (page is not null);
            Assert.Equal(expected[id], texts);
        }
    }
}

/// <summary>Bytes that are not UTF-8 are a clear 400 on every JSON route, never a 500.</summary>
[Trait("Category", "Stress")]
public sealed class InvalidUtf8Tests
{
    [Theory]
    [InlineData("POST", "/api/conversations")]
    [InlineData("POST", "/agent/events")]
    [InlineData("POST", "/events")]
    [InlineData("PATCH", "")]
    public async Task Invalid_utf8_in_a_body_is_a_400(string method, string route)
    {
        await using var server = await SyncServer.StartAsync();
        var id = await server.NewConversationAsync();
        var path = route == "/api/conversations" ? route : $"/api/conversations/{id}{route}";
        var json = route == "/agent/events" ? """[{"kind":"MessageEvent","source":"agent","x":"AB"}]""" : """{"title":"AB","role":"user","content":[{"type":"text","text":"AB"}]}""";
        var bytes = System.Text.Encoding.UTF8.GetBytes(json);
        var at = Array.IndexOf(bytes, (byte)'A');
        bytes[at] = 0xC3; bytes[at + 1] = 0x28; // an invalid two-byte sequence inside a string
        using var request = new HttpRequestMessage(new HttpMethod(method), path) { Content = new ByteArrayContent(bytes) };
        request.Content.Headers.ContentType = new System.Net.Http.Headers.MediaTypeHeaderValue("application/json");

        using var response = await server.Http.SendAsync(request);

        Assert.Equal(400, (int)response.StatusCode);
        Assert.Contains("UTF-8", await response.Content.ReadAsStringAsync());
        Assert.Equal(0, (await server.GetAsync($"/api/conversations/{id}/events/count")).Body.GetInt64());
    }
}
