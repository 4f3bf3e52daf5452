using System.Net.WebSockets;
using System.Text.Json;
using Akka.Sync.Gateway.Tests.Support;
using Xunit;

namespace Akka.Sync.Gateway.Tests;

/// <summary>CONTRACT §3: the V1 socket, on a real server with real ClientWebSockets.</summary>
public sealed class EventSocketTests : IAsyncLifetime
{
    private SyncServer _server = null!;

    public async Task InitializeAsync() => _server = await SyncServer.StartAsync();

    public async Task DisposeAsync() => await _server.DisposeAsync();

    private async Task<(string Id, JsonElement[] Items)> ConversationWith(int events)
    {
        var id = await _server.NewConversationAsync();
        var items = events == 0 ? [] : await _server.IngestAsync(id,
            Enumerable.Range(1, events).Select(i => SyncServer.Message($"event {i}")).ToArray());
        return (id, items);
    }

    [Fact]
    public async Task Sends_full_state_first_with_the_conversation_fields()
    {
        var created = await _server.CreateConversationAsync(new { title = "a title" });
        var id = created.GetProperty("id").GetString()!;
        await using var socket = await TestSocket.ConnectAsync(_server.SocketUri(id));

        var first = await socket.ReceiveJsonAsync();

        Assert.Equal("ConversationStateUpdateEvent", first.Kind());
        Assert.Equal("full_state", first.GetProperty("key").GetString());
        Assert.Equal("environment", first.GetProperty("source").GetString());
        Assert.False(string.IsNullOrEmpty(first.Id()));
        var value = first.GetProperty("value");
        Assert.Equal(id, value.GetProperty("id").GetString());
        Assert.Equal("idle", value.GetProperty("execution_status").GetString());
        Assert.Equal("a title", value.GetProperty("title").GetString());
        Assert.Equal(created.GetProperty("created_at").GetString(), value.GetProperty("created_at").GetString());
        Assert.True(value.TryGetProperty("updated_at", out _));
    }

    [Fact]
    public async Task Replays_every_stored_event_in_seq_order_with_resend_all_then_streams_live()
    {
        var (id, stored) = await ConversationWith(5);
        await using var socket = await TestSocket.ConnectAsync(_server.SocketUri(id, "resend_all=true"));

        Assert.Equal("full_state", (await socket.ReceiveJsonAsync()).GetProperty("key").GetString());
        var replayed = new List<string>();
        for (var i = 0; i < 5; i++) replayed.Add((await socket.ReceiveJsonAsync()).Id());
        Assert.Equal(stored.Select(s => s.GetProperty("id").GetString()), replayed);

        var live = await _server.IngestAsync(id, [SyncServer.Message("live one")]);
        var next = await socket.ReceiveJsonAsync();
        Assert.Equal(live[0].GetProperty("id").GetString(), next.Id());
        Assert.Equal(6, live[0].GetProperty("seq").GetInt64());
    }

    [Fact]
    public async Task Without_resend_all_sends_only_full_state_then_live_events()
    {
        var (id, _) = await ConversationWith(3);
        await using var socket = await TestSocket.ConnectAsync(_server.SocketUri(id, "resend_all=false"));
        Assert.Equal("full_state", (await socket.ReceiveJsonAsync()).GetProperty("key").GetString());

        var live = await _server.IngestAsync(id, [SyncServer.Message("after connect")]);

        Assert.Equal(live[0].GetProperty("id").GetString(), (await socket.ReceiveJsonAsync()).Id());
    }

    [Fact]
    public async Task Resend_mode_since_replays_the_events_at_or_after_the_timestamp()
    {
        var (id, _) = await ConversationWith(2);
        var later = await _server.IngestAsync(id, [SyncServer.Message("third"), SyncServer.Message("fourth")]);
        var (_, third) = await _server.GetAsync($"/api/conversations/{id}/events/{later[0].GetProperty("id").GetString()}");
        var since = Uri.EscapeDataString(third.GetProperty("timestamp").GetString()!);

        await using var socket = await TestSocket.ConnectAsync(_server.SocketUri(id, $"resend_mode=since&after_timestamp={since}"));
        await socket.ReceiveJsonAsync(); // full_state
        var ids = new[] { (await socket.ReceiveJsonAsync()).Id(), (await socket.ReceiveJsonAsync()).Id() };

        Assert.Equal(later.Select(l => l.GetProperty("id").GetString()), ids);
        var live = await _server.IngestAsync(id, [SyncServer.Message("fifth")]);
        Assert.Equal(live[0].GetProperty("id").GetString(), (await socket.ReceiveJsonAsync()).Id());
    }

    [Fact]
    public async Task After_event_id_replays_exactly_the_events_after_it()
    {
        var (id, stored) = await ConversationWith(6);
        var after = stored[2].GetProperty("id").GetString();

        await using var socket = await TestSocket.ConnectAsync(_server.SocketUri(id, $"after_event_id={after}&resend_all=true"));
        await socket.ReceiveJsonAsync(); // full_state
        var replayed = new List<string>();
        for (var i = 0; i < 3; i++) replayed.Add((await socket.ReceiveJsonAsync()).Id());

        Assert.Equal(stored.Skip(3).Select(s => s.GetProperty("id").GetString()), replayed);
        var live = await _server.IngestAsync(id, [SyncServer.Message("live")]);
        Assert.Equal(live[0].GetProperty("id").GetString(), (await socket.ReceiveJsonAsync()).Id());
    }

    [Fact]
    public async Task An_unknown_after_event_id_closes_with_4009()
    {
        var (id, _) = await ConversationWith(2);
        await using var socket = await TestSocket.ConnectAsync(_server.SocketUri(id, $"after_event_id={Guid.NewGuid()}"));

        var frames = await socket.ReadUntilClosedAsync();

        Assert.Empty(frames);
        Assert.Equal(4009, (int)socket.CloseStatus!);
        Assert.Equal("unknown after_event_id", socket.CloseDescription);
    }

    [Theory]
    [InlineData("after_event_id=not-a-uuid")]
    [InlineData("resend_all=maybe")]
    [InlineData("resend_mode=sometimes")]
    [InlineData("resend_mode=since")]
    [InlineData("resend_mode=since&after_timestamp=yesterday")]
    public async Task Malformed_replay_parameters_are_refused_with_400(string query)
    {
        var id = await _server.NewConversationAsync();
        Assert.Equal(400, await TestSocket.ConnectRefusedAsync(_server.SocketUri(id, query)));
    }

    [Theory]
    [InlineData("0b6a4b0e-3f1a-4c1e-9a59-6c1f0d7e2b11")]
    [InlineData("not-a-conversation")]
    [InlineData("..%2F..%2Fetc%2Fpasswd")]
    public async Task An_unknown_conversation_is_accepted_then_closed_with_4004(string conversationId)
    {
        await using var socket = await TestSocket.ConnectAsync(_server.SocketUri(conversationId));

        var frames = await socket.ReadUntilClosedAsync();

        Assert.Empty(frames);
        Assert.Equal(4004, (int)socket.CloseStatus!);
        Assert.Equal("Conversation not found", socket.CloseDescription);
    }

    [Fact]
    public async Task A_user_message_frame_is_stored_and_broadcast_to_every_socket_including_the_sender()
    {
        var id = await _server.NewConversationAsync();
        await using var sender = await TestSocket.ConnectAsync(_server.SocketUri(id));
        await using var watcher = await TestSocket.ConnectAsync(_server.SocketUri(id));
        await sender.ReceiveJsonAsync();
        await watcher.ReceiveJsonAsync();

        await sender.SendTextAsync("""{"role":"user","content":[{"type":"text","text":"hello there"}]}""");

        foreach (var socket in new[] { sender, watcher })
        {
            var message = await socket.ReceiveJsonAsync();
            Assert.Equal("MessageEvent", message.Kind());
            Assert.Equal("user", message.GetProperty("source").GetString());
            Assert.Equal("user", message.GetProperty("llm_message").GetProperty("role").GetString());
            Assert.Equal("hello there", message.GetProperty("llm_message").GetProperty("content")[0].GetProperty("text").GetString());
            // A socket message starts a run, as send_message(run=True).
            Assert.True((await socket.ReceiveJsonAsync()).IsStatus("running"));
        }
        var (_, count) = await _server.GetAsync($"/api/conversations/{id}/events/count");
        Assert.Equal(2, count.GetInt64());
    }

    [Fact]
    public async Task Image_url_content_items_are_stored_not_dropped()
    {
        var id = await _server.NewConversationAsync();
        await using var socket = await TestSocket.ConnectAsync(_server.SocketUri(id));
        await socket.ReceiveJsonAsync();

        await socket.SendTextAsync("""{"role":"user","content":[{"type":"text","text":"look"},{"type":"image_url","image_url":{"url":"data:image/png;base64,AAAA"}}]}""");

        var content = (await socket.ReceiveJsonAsync()).GetProperty("llm_message").GetProperty("content");
        Assert.Equal(2, content.GetArrayLength());
        Assert.Equal("image", content[1].GetProperty("type").GetString());
        Assert.Equal("data:image/png;base64,AAAA", content[1].GetProperty("image_urls")[0].GetString());
    }

    [Theory]
    [InlineData("{not json", "invalid JSON")]
    [InlineData("""{"hello":"world"}""", "expected a message")]
    [InlineData("""[1,2,3]""", "expected a JSON object")]
    [InlineData("""{"role":"user","content":[{"type":"video","url":"x"}]}""", "unknown content type")]
    [InlineData("""{"role":"assistant","content":[{"type":"text","text":"x"}]}""", "role must be")]
    public async Task A_bad_text_frame_gets_an_error_frame_and_the_socket_stays_open(string frame, string detailPart)
    {
        var id = await _server.NewConversationAsync();
        await using var socket = await TestSocket.ConnectAsync(_server.SocketUri(id));
        await socket.ReceiveJsonAsync();

        await socket.SendTextAsync(frame);

        var error = await socket.ReceiveJsonAsync();
        Assert.Equal("ConversationErrorEvent", error.Kind());
        Assert.Equal("environment", error.GetProperty("source").GetString());
        Assert.Equal("bad_frame", error.GetProperty("code").GetString());
        Assert.Contains(detailPart, error.GetProperty("detail").GetString());
        await AssertStillServes(socket, id);
    }

    [Fact]
    public async Task A_binary_frame_gets_an_error_frame_and_the_socket_stays_open()
    {
        var id = await _server.NewConversationAsync();
        await using var socket = await TestSocket.ConnectAsync(_server.SocketUri(id));
        await socket.ReceiveJsonAsync();

        await socket.SendBinaryAsync([1, 2, 3, 0, 255]);

        var error = await socket.ReceiveJsonAsync();
        Assert.Equal("bad_frame", error.GetProperty("code").GetString());
        await AssertStillServes(socket, id);
    }

    /// <summary>The socket still works and nothing was stored for the bad frame.</summary>
    private async Task AssertStillServes(TestSocket socket, string id)
    {
        var (_, before) = await _server.GetAsync($"/api/conversations/{id}/events/count");
        Assert.Equal(0, before.GetInt64());
        await socket.SendTextAsync("""{"role":"user","content":[{"type":"text","text":"still here"}]}""");
        Assert.Equal("MessageEvent", (await socket.ReceiveJsonAsync()).Kind());
    }

    [Fact]
    public async Task Replay_and_live_hand_over_delivers_every_event_exactly_once_while_appends_race_it()
    {
        var (id, _) = await ConversationWith(200);
        const int racing = 300;
        var ingest = Task.Run(async () =>
        {
            for (var i = 0; i < racing / 10; i++)
                await _server.IngestAsync(id, Enumerable.Range(0, 10).Select(j => SyncServer.Message($"race {i}.{j}")).ToArray());
        });
        await using var socket = await TestSocket.ConnectAsync(_server.SocketUri(id, "resend_all=true"));
        await socket.ReceiveJsonAsync();
        var received = new List<string>();
        for (var i = 0; i < 200 + racing; i++) received.Add((await socket.ReceiveJsonAsync()).Id());
        await ingest;

        var (_, page) = await _server.GetAsync($"/api/conversations/{id}/events/count");
        Assert.Equal(200 + racing, page.GetInt64());
        Assert.Equal(received.Count, received.Distinct().Count());
        Assert.Equal(await AllIdsInSeqOrder(id), received);
    }

    private async Task<List<string>> AllIdsInSeqOrder(string id)
    {
        var ids = new List<string>();
        string? page = null;
        do
        {
            var (_, body) = await _server.GetAsync($"/api/conversations/{id}/events/search?limit=100" + (page is null ? "" : $"&page_id={page}"));
            ids.AddRange(body.GetProperty("items").EnumerateArray().Select(e => e.Id()));
            page = body.GetProperty("next_page_id").ValueKind == JsonValueKind.Null ? null : body.GetProperty("next_page_id").GetString();
        } while (page is not null);
        return ids;
    }
}
