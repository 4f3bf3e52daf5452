using System.Text.Json;
using Akka.Sync.Gateway.Tests.Support;
using Xunit;

namespace Akka.Sync.Gateway.Tests;

/// <summary>CONTRACT §7: the event routes, confirmation, and the frontend's event count.</summary>
public sealed class EventApiTests : IAsyncLifetime
{
    private SyncServer _server = null!;

    public async Task InitializeAsync() => _server = await SyncServer.StartAsync();

    public async Task DisposeAsync() => await _server.DisposeAsync();

    private static string[] Ids(JsonElement page) => page.GetProperty("items").EnumerateArray().Select(e => e.Id()).ToArray();

    [Fact]
    public async Task Events_search_pages_in_seq_order_and_descending()
    {
        var id = await _server.NewConversationAsync();
        var stored = (await _server.IngestAsync(id, Enumerable.Range(0, 7).Select(i => SyncServer.Message($"m{i}")).ToArray()))
            .Select(i => i.GetProperty("id").GetString()!).ToArray();

        var (_, p1) = await _server.GetAsync($"/api/conversations/{id}/events/search?limit=3");
        Assert.Equal(stored[..3], Ids(p1));
        Assert.Equal(stored[3], p1.GetProperty("next_page_id").GetString());
        var (_, p2) = await _server.GetAsync($"/api/conversations/{id}/events/search?limit=3&page_id={stored[3]}");
        Assert.Equal(stored[3..6], Ids(p2));
        var (_, p3) = await _server.GetAsync($"/api/conversations/{id}/events/search?limit=3&page_id={stored[6]}");
        Assert.Equal(stored[6..], Ids(p3));
        Assert.Equal(JsonValueKind.Null, p3.GetProperty("next_page_id").ValueKind);

        var (_, desc) = await _server.GetAsync($"/api/conversations/{id}/events/search?sort_order=TIMESTAMP_DESC&limit=4");
        Assert.Equal(stored.Reverse().Take(4), Ids(desc));
        Assert.Equal(stored[2], desc.GetProperty("next_page_id").GetString());
    }

    [Fact]
    public async Task Events_search_and_count_filter_by_kind_source_and_time()
    {
        var id = await _server.NewConversationAsync();
        await _server.IngestAsync(id, [SyncServer.Message("a")]);
        await _server.SendAsync(HttpMethod.Post, $"/api/conversations/{id}/events", new { role = "user", content = new[] { new { type = "text", text = "u" } } });
        var later = await _server.IngestAsync(id, [new { kind = "AgentErrorEvent", source = "agent", tool_name = "t", tool_call_id = "c", error = "boom" }]);
        var (_, laterEvent) = await _server.GetAsync($"/api/conversations/{id}/events/{later[0].GetProperty("id").GetString()}");
        var ts = Uri.EscapeDataString(laterEvent.GetProperty("timestamp").GetString()!);

        Assert.Equal(2, Ids((await _server.GetAsync($"/api/conversations/{id}/events/search?kind=MessageEvent")).Body).Length);
        Assert.Equal(2, Ids((await _server.GetAsync($"/api/conversations/{id}/events/search?kind=openhands.sdk.event.llm_convertible.message.MessageEvent")).Body).Length);
        Assert.Single(Ids((await _server.GetAsync($"/api/conversations/{id}/events/search?source=user")).Body));
        Assert.Equal([later[0].GetProperty("id").GetString()!], Ids((await _server.GetAsync($"/api/conversations/{id}/events/search?timestamp__gte={ts}")).Body));
        Assert.Equal(2, Ids((await _server.GetAsync($"/api/conversations/{id}/events/search?timestamp__lt={ts}")).Body).Length);

        Assert.Equal(3, (await _server.GetAsync($"/api/conversations/{id}/events/count")).Body.GetInt64());
        Assert.Equal(2, (await _server.GetAsync($"/api/conversations/{id}/events/count?kind=MessageEvent")).Body.GetInt64());
        Assert.Equal(1, (await _server.GetAsync($"/api/conversations/{id}/events/count?source=agent&kind=AgentErrorEvent")).Body.GetInt64());
    }

    [Theory]
    [InlineData("events/search?limit=0")]
    [InlineData("events/search?limit=101")]
    [InlineData("events/search?source=robot")]
    [InlineData("events/search?sort_order=SEQ")]
    [InlineData("events/search?timestamp__gte=soon")]
    [InlineData("events/search?page_id=0b6a4b0e-3f1a-4c1e-9a59-6c1f0d7e2b11")]
    [InlineData("events/count?timestamp__lt=later")]
    [InlineData("events/not-a-uuid")]
    public async Task Event_routes_refuse_bad_parameters_with_400(string route)
    {
        var id = await _server.NewConversationAsync();
        var (status, error) = await _server.GetAsync($"/api/conversations/{id}/{route}");
        Assert.Equal(400, status);
        Assert.False(string.IsNullOrEmpty(error.GetProperty("detail").GetString()));
    }

    [Fact]
    public async Task Event_routes_answer_404_for_an_unknown_conversation_or_event()
    {
        var unknown = Guid.NewGuid().ToString("N");
        Assert.Equal(404, (await _server.GetAsync($"/api/conversations/{unknown}/events/search")).Status);
        Assert.Equal(404, (await _server.GetAsync($"/api/conversations/{unknown}/events/count")).Status);
        var id = await _server.NewConversationAsync();
        Assert.Equal(404, (await _server.GetAsync($"/api/conversations/{id}/events/{Guid.NewGuid()}")).Status);
    }

    [Fact]
    public async Task Get_event_returns_the_stored_event_as_it_was_sent_on_sockets()
    {
        var id = await _server.NewConversationAsync();
        var items = await _server.IngestAsync(id, [new { kind = "CustomThing", source = "environment", payload = new { deep = new[] { 1, 2 } } }]);
        var eventId = items[0].GetProperty("id").GetString();

        var (status, e) = await _server.GetAsync($"/api/conversations/{id}/events/{eventId}");

        Assert.Equal(200, status);
        Assert.Equal(["kind", "id", "timestamp", "source", "payload"], e.EnumerateObject().Select(p => p.Name));
        Assert.Equal("CustomThing", e.Kind());
        Assert.Equal(2, e.GetProperty("payload").GetProperty("deep")[1].GetInt32());
    }

    [Fact]
    public async Task Post_events_appends_a_user_message_and_runs_only_when_asked()
    {
        var id = await _server.NewConversationAsync();
        var (status, body) = await _server.SendAsync(HttpMethod.Post, $"/api/conversations/{id}/events",
            new { role = "user", content = new[] { new { type = "text", text = "no run" } } });
        Assert.Equal(200, status);
        Assert.True(body.GetProperty("success").GetBoolean());
        Assert.Equal("idle", (await _server.GetAsync($"/api/conversations/{id}")).Body.GetProperty("execution_status").GetString());

        await _server.SendAsync(HttpMethod.Post, $"/api/conversations/{id}/events",
            new { role = "user", content = new[] { new { type = "text", text = "now run" } }, run = true });
        Assert.Equal("running", (await _server.GetAsync($"/api/conversations/{id}")).Body.GetProperty("execution_status").GetString());
        Assert.Equal(3, (await _server.GetAsync($"/api/conversations/{id}/events/count")).Body.GetInt64());
    }

    [Theory]
    [InlineData("""{"role":"user"}""")]
    [InlineData("""{"role":"system","content":[{"type":"text","text":"x"}]}""")]
    [InlineData("""{"role":"user","content":[{"type":"text","text":"x"}],"run":"yes"}""")]
    [InlineData("")]
    public async Task Post_events_refuses_a_bad_message_with_400(string body)
    {
        var id = await _server.NewConversationAsync();
        Assert.Equal(400, (await _server.SendAsync(HttpMethod.Post, $"/api/conversations/{id}/events", body)).Status);
        Assert.Equal(0, (await _server.GetAsync($"/api/conversations/{id}/events/count")).Body.GetInt64());
    }

    [Fact]
    public async Task Respond_to_confirmation_answers_409_unless_waiting_for_confirmation()
    {
        var id = await _server.NewConversationAsync();
        var (status, error) = await _server.SendAsync(HttpMethod.Post, $"/api/conversations/{id}/events/respond_to_confirmation", new { accept = true });
        Assert.Equal(409, status);
        Assert.Contains("waiting_for_confirmation", error.GetProperty("detail").GetString());
        Assert.Equal(400, (await _server.SendAsync(HttpMethod.Post, $"/api/conversations/{id}/events/respond_to_confirmation", new { accept = "yes" })).Status);
    }

    [Fact]
    public async Task Accepting_a_confirmation_runs_the_conversation()
    {
        var id = await _server.NewConversationAsync();
        await WaitForConfirmation(id);

        Assert.Equal(200, (await _server.SendAsync(HttpMethod.Post, $"/api/conversations/{id}/events/respond_to_confirmation", new { accept = true })).Status);

        Assert.Equal("running", (await _server.GetAsync($"/api/conversations/{id}")).Body.GetProperty("execution_status").GetString());
    }

    [Fact]
    public async Task Rejecting_a_confirmation_answers_each_pending_action_then_goes_idle()
    {
        var id = await _server.NewConversationAsync();
        var actions = await WaitForConfirmation(id);

        Assert.Equal(200, (await _server.SendAsync(HttpMethod.Post, $"/api/conversations/{id}/events/respond_to_confirmation",
            new { accept = false, reason = "not that" })).Status);

        var (_, page) = await _server.GetAsync($"/api/conversations/{id}/events/search?sort_order=TIMESTAMP_DESC&limit=3");
        var newest = page.GetProperty("items").EnumerateArray().ToArray();
        Assert.True(newest[0].IsStatus("idle"));
        var rejections = newest[1..].Reverse().ToArray();
        Assert.All(rejections, r => Assert.Equal("UserRejectObservation", r.Kind()));
        Assert.Equal(actions, rejections.Select(r => r.GetProperty("action_id").GetString()!));
        Assert.All(rejections, r => Assert.Equal("not that", r.GetProperty("rejection_reason").GetString()));
        Assert.Equal("idle", (await _server.GetAsync($"/api/conversations/{id}")).Body.GetProperty("execution_status").GetString());
    }

    /// <summary>An agent proposes two actions and asks for confirmation; returns the action ids.</summary>
    private async Task<string[]> WaitForConfirmation(string id)
    {
        var items = await _server.IngestAsync(id,
        [
            new { kind = "ActionEvent", source = "agent", tool_name = "execute_bash", tool_call_id = "c1", action = new { kind = "ExecuteBashAction", command = "ls" } },
            new { kind = "ActionEvent", source = "agent", tool_name = "execute_bash", tool_call_id = "c2", action = new { kind = "ExecuteBashAction", command = "pwd" } },
            new { kind = "ConversationStateUpdateEvent", source = "environment", key = "execution_status", value = "waiting_for_confirmation" },
        ]);
        Assert.Equal("waiting_for_confirmation", (await _server.GetAsync($"/api/conversations/{id}")).Body.GetProperty("execution_status").GetString());
        return [items[0].GetProperty("id").GetString()!, items[1].GetProperty("id").GetString()!];
    }

    [Fact]
    public async Task The_frontend_event_count_counts_stored_events_and_zero_for_unknown()
    {
        var id = await _server.NewConversationAsync();
        await _server.IngestAsync(id, [SyncServer.Message("a"), SyncServer.Message("b")]);

        Assert.Equal(2, (await _server.GetAsync($"/api/v1/events/count?conversation_id__eq={id}")).Body.GetInt64());
        Assert.Equal(0, (await _server.GetAsync($"/api/v1/events/count?conversation_id__eq={Guid.NewGuid():N}")).Body.GetInt64());
        Assert.Equal(400, (await _server.GetAsync("/api/v1/events/count?conversation_id__eq=zzz")).Status);
        Assert.Equal(400, (await _server.GetAsync("/api/v1/events/count")).Status);
    }
}
