using System.Text.Json;
using Akka.Sync.Gateway.Tests.Support;
using Xunit;

namespace Akka.Sync.Gateway.Tests;

/// <summary>CONTRACT §7: the conversation routes and their error codes.</summary>
public sealed class ConversationApiTests : IAsyncLifetime
{
    private SyncServer _server = null!;

    public async Task InitializeAsync() => _server = await SyncServer.StartAsync();

    public async Task DisposeAsync() => await _server.DisposeAsync();

    [Fact]
    public async Task Create_returns_201_with_the_info_and_a_fresh_key_then_200_for_the_same_id()
    {
        var id = Guid.NewGuid();
        var (status, first) = await _server.SendAsync(HttpMethod.Post, "/api/conversations", new { conversation_id = id.ToString("D"), title = "t" });
        Assert.Equal(201, status);
        Assert.Equal(id.ToString("N"), first.GetProperty("id").GetString());
        Assert.Equal("idle", first.GetProperty("execution_status").GetString());
        Assert.Equal("t", first.GetProperty("title").GetString());
        Assert.Equal("v1", first.GetProperty("protocol").GetString());
        Assert.Matches("^\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\d\\.\\d{6}$", first.GetProperty("created_at").GetString());
        var key1 = first.GetProperty("session_api_key").GetString();

        var (again, second) = await _server.SendAsync(HttpMethod.Post, "/api/conversations", new { conversation_id = id.ToString("N").ToUpperInvariant() });
        Assert.Equal(200, again);
        Assert.Equal(id.ToString("N"), second.GetProperty("id").GetString());
        Assert.Equal(first.GetProperty("created_at").GetString(), second.GetProperty("created_at").GetString());
        Assert.NotEqual(key1, second.GetProperty("session_api_key").GetString());
    }

    [Fact]
    public async Task Create_with_an_initial_message_stores_it_and_runs_when_asked()
    {
        var (status, info) = await _server.SendAsync(HttpMethod.Post, "/api/conversations", new
        {
            initial_message = new { role = "user", content = new[] { new { type = "text", text = "start" } }, run = true },
        });
        Assert.Equal(201, status);
        Assert.Equal("running", info.GetProperty("execution_status").GetString());
        var id = info.GetProperty("id").GetString();
        var (_, page) = await _server.GetAsync($"/api/conversations/{id}/events/search");
        var kinds = page.GetProperty("items").EnumerateArray().Select(e => e.Kind()).ToArray();
        Assert.Equal(["MessageEvent", "ConversationStateUpdateEvent"], kinds);
    }

    [Theory]
    [InlineData("""{"conversation_id":"nope"}""", "conversation_id")]
    [InlineData("""{"conversation_id":12}""", "conversation_id")]
    [InlineData("""{"title":5}""", "title")]
    [InlineData("""{"protocol":"v9"}""", "protocol")]
    [InlineData("""{"initial_message":{"role":"user","content":"x"}}""", "initial_message")]
    [InlineData("""{"initial_message":{"role":"user","content":[]}}""", "initial_message")]
    [InlineData("""[1]""", "JSON object")]
    [InlineData("""{broken""", "invalid JSON")]
    public async Task Create_refuses_a_bad_body_with_400_and_a_detail(string body, string detailPart)
    {
        var (status, error) = await _server.SendAsync(HttpMethod.Post, "/api/conversations", body);
        Assert.Equal(400, status);
        Assert.Contains(detailPart, error.GetProperty("detail").GetString());
        var (_, count) = await _server.GetAsync("/api/conversations/count");
        Assert.Equal(0, count.GetInt64());
    }

    [Fact]
    public async Task Get_returns_the_info_accepting_dashed_and_hex_ids_and_404_for_unknown_and_400_for_malformed()
    {
        var id = await _server.NewConversationAsync();
        var (ok, info) = await _server.GetAsync($"/api/conversations/{Guid.ParseExact(id, "N"):D}");
        Assert.Equal(200, ok);
        Assert.Equal(id, info.GetProperty("id").GetString());
        Assert.False(info.TryGetProperty("session_api_key", out _));

        var (missing, notFound) = await _server.GetAsync($"/api/conversations/{Guid.NewGuid():N}");
        Assert.Equal(404, missing);
        Assert.Equal("Conversation not found", notFound.GetProperty("detail").GetString());
        Assert.Equal(400, (await _server.GetAsync("/api/conversations/1%27%20OR%201=1")).Status);
    }

    [Fact]
    public async Task Search_pages_with_next_page_id_and_filters_by_status_and_sorts()
    {
        var ids = new List<string>();
        for (var i = 0; i < 5; i++) ids.Add(await _server.NewConversationAsync());
        await _server.SendAsync(HttpMethod.Post, $"/api/conversations/{ids[1]}/run", new { });

        var (_, page1) = await _server.GetAsync("/api/conversations/search?limit=2");
        var first = page1.GetProperty("items").EnumerateArray().Select(e => e.GetProperty("id").GetString()).ToList();
        Assert.Equal(ids.Take(2), first);
        var next = page1.GetProperty("next_page_id").GetString();
        Assert.Equal(ids[2], next);
        var (_, page2) = await _server.GetAsync($"/api/conversations/search?limit=2&page_id={next}");
        Assert.Equal(ids.Skip(2).Take(2), page2.GetProperty("items").EnumerateArray().Select(e => e.GetProperty("id").GetString()));
        var (_, page3) = await _server.GetAsync($"/api/conversations/search?limit=2&page_id={page2.GetProperty("next_page_id").GetString()}");
        Assert.Equal(JsonValueKind.Null, page3.GetProperty("next_page_id").ValueKind);
        Assert.Single(page3.GetProperty("items").EnumerateArray());

        var (_, desc) = await _server.GetAsync("/api/conversations/search?sort_order=CREATED_AT_DESC");
        Assert.Equal(Enumerable.Reverse(ids), desc.GetProperty("items").EnumerateArray().Select(e => e.GetProperty("id").GetString()));

        var (_, running) = await _server.GetAsync("/api/conversations/search?status=running");
        Assert.Equal([ids[1]], running.GetProperty("items").EnumerateArray().Select(e => e.GetProperty("id").GetString()));
        Assert.Equal(5, (await _server.GetAsync("/api/conversations/count")).Body.GetInt64());
        Assert.Equal(1, (await _server.GetAsync("/api/conversations/count?status=running")).Body.GetInt64());
    }

    [Theory]
    [InlineData("/api/conversations/search?limit=0")]
    [InlineData("/api/conversations/search?limit=101")]
    [InlineData("/api/conversations/search?limit=ten")]
    [InlineData("/api/conversations/search?status=sleeping")]
    [InlineData("/api/conversations/search?sort_order=RANDOM")]
    [InlineData("/api/conversations/search?page_id=nope")]
    [InlineData("/api/conversations/count?status=sleeping")]
    public async Task Search_and_count_refuse_bad_parameters_with_400(string path)
    {
        var (status, error) = await _server.GetAsync(path);
        Assert.Equal(400, status);
        Assert.False(string.IsNullOrEmpty(error.GetProperty("detail").GetString()));
    }

    [Fact]
    public async Task Patch_sets_the_title_and_refuses_a_bad_one()
    {
        var id = await _server.NewConversationAsync();
        var (status, body) = await _server.SendAsync(HttpMethod.Patch, $"/api/conversations/{id}", new { title = "renamed" });
        Assert.Equal(200, status);
        Assert.True(body.GetProperty("success").GetBoolean());
        Assert.Equal("renamed", (await _server.GetAsync($"/api/conversations/{id}")).Body.GetProperty("title").GetString());

        Assert.Equal(400, (await _server.SendAsync(HttpMethod.Patch, $"/api/conversations/{id}", new { title = "" })).Status);
        Assert.Equal(400, (await _server.SendAsync(HttpMethod.Patch, $"/api/conversations/{id}", new { title = 3 })).Status);
        Assert.Equal(404, (await _server.SendAsync(HttpMethod.Patch, $"/api/conversations/{Guid.NewGuid():N}", new { title = "x" })).Status);
    }

    [Fact]
    public async Task Delete_removes_the_conversation_closes_its_sockets_and_refuses_recreation()
    {
        var id = await _server.NewConversationAsync();
        await using var socket = await TestSocket.ConnectAsync(_server.SocketUri(id));
        await socket.ReceiveJsonAsync();

        var (status, body) = await _server.SendAsync(HttpMethod.Delete, $"/api/conversations/{id}");
        Assert.Equal(200, status);
        Assert.True(body.GetProperty("success").GetBoolean());

        Assert.Empty(await socket.ReadUntilClosedAsync());
        Assert.Equal(4004, (int)socket.CloseStatus!);
        Assert.Equal(404, (await _server.GetAsync($"/api/conversations/{id}")).Status);
        Assert.Equal(404, (await _server.SendAsync(HttpMethod.Delete, $"/api/conversations/{id}")).Status);
        Assert.Equal(409, (await _server.SendAsync(HttpMethod.Post, "/api/conversations", new { conversation_id = id })).Status);
        Assert.Equal(0, (await _server.GetAsync("/api/conversations/count")).Body.GetInt64());
    }

    [Fact]
    public async Task Run_starts_a_run_and_answers_409_when_already_running()
    {
        var id = await _server.NewConversationAsync();
        var (status, body) = await _server.SendAsync(HttpMethod.Post, $"/api/conversations/{id}/run", new { });
        Assert.Equal(200, status);
        Assert.True(body.GetProperty("success").GetBoolean());
        Assert.Equal("running", (await _server.GetAsync($"/api/conversations/{id}")).Body.GetProperty("execution_status").GetString());

        var (conflict, error) = await _server.SendAsync(HttpMethod.Post, $"/api/conversations/{id}/run", new { });
        Assert.Equal(409, conflict);
        Assert.Contains("running", error.GetProperty("detail").GetString());
        Assert.Equal(404, (await _server.SendAsync(HttpMethod.Post, $"/api/conversations/{Guid.NewGuid():N}/run", new { })).Status);
    }

    [Fact]
    public async Task Pause_moves_to_paused_with_a_PauseEvent_once_and_pausing_again_appends_nothing()
    {
        var id = await _server.NewConversationAsync();
        await _server.SendAsync(HttpMethod.Post, $"/api/conversations/{id}/run", new { });

        Assert.Equal(200, (await _server.SendAsync(HttpMethod.Post, $"/api/conversations/{id}/pause", new { })).Status);
        Assert.Equal(200, (await _server.SendAsync(HttpMethod.Post, $"/api/conversations/{id}/pause", new { })).Status);

        var (_, page) = await _server.GetAsync($"/api/conversations/{id}/events/search");
        var events = page.GetProperty("items").EnumerateArray().ToArray();
        Assert.Equal(3, events.Length);
        Assert.True(events[0].IsStatus("running"));
        Assert.True(events[1].IsStatus("paused"));
        Assert.Equal("PauseEvent", events[2].Kind());
        Assert.Equal("user", events[2].GetProperty("source").GetString());
    }

    [Fact]
    public async Task Alive_and_ready_answer_200()
    {
        Assert.Equal(200, (int)(await _server.Http.GetAsync("/alive")).StatusCode);
        var ready = await _server.Http.GetAsync("/ready");
        Assert.Equal(200, (int)ready.StatusCode);
        Assert.Equal("Healthy", await ready.Content.ReadAsStringAsync());
    }
}
