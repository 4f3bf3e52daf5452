using Akka.Sync.Gateway.Tests.Support;
using Xunit;

namespace Akka.Sync.Gateway.Tests;

/// <summary>Everything acknowledged survives a restart of the whole server on the same SQLite file.</summary>
public sealed class DurabilityTests
{
    [Fact]
    public async Task Acknowledged_events_and_state_survive_a_restart_on_the_same_sqlite_file()
    {
        var dir = SyncServer.NewDataDirectory();
        try
        {
            string id;
            string[] stored;
            await using (var first = await SyncServer.StartAsync(dataDirectory: dir))
            {
                var created = await first.CreateConversationAsync(new { title = "kept" });
                id = created.GetProperty("id").GetString()!;
                var items = await first.IngestAsync(id, Enumerable.Range(0, 50).Select(i => SyncServer.Message($"m{i}")).ToArray());
                await first.SendAsync(HttpMethod.Post, $"/api/conversations/{id}/run", new { });
                stored = items.Select(i => i.GetProperty("id").GetString()!).ToArray();
            }
            Assert.True(File.Exists(Path.Combine(dir, "akka-sync.db")));

            await using var second = await SyncServer.StartAsync(dataDirectory: dir);
            var (status, info) = await second.GetAsync($"/api/conversations/{id}");
            Assert.Equal(200, status);
            Assert.Equal("kept", info.GetProperty("title").GetString());
            Assert.Equal("running", info.GetProperty("execution_status").GetString());
            Assert.Equal(1, (await second.GetAsync("/api/conversations/count")).Body.GetInt64());

            await using var socket = await TestSocket.ConnectAsync(second.SocketUri(id, "resend_all=true"));
            await socket.ReceiveJsonAsync();
            var replayed = new List<string>();
            for (var i = 0; i < 51; i++) replayed.Add((await socket.ReceiveJsonAsync()).Id());
            Assert.Equal(stored, replayed.Take(50));

            var next = await second.IngestAsync(id, [SyncServer.Message("after restart")]);
            Assert.Equal(52, next[0].GetProperty("seq").GetInt64());
            Assert.Equal(next[0].GetProperty("id").GetString(), (await socket.ReceiveJsonAsync()).Id());

            // Idempotency survives too: a retry of an id stored before the restart is not stored again.
            var retry = await second.IngestAsync(id, [new { kind = "MessageEvent", source = "agent", id = stored[10] }]);
            Assert.Equal(11, retry[0].GetProperty("seq").GetInt64());
            Assert.Equal(52, (await second.GetAsync($"/api/conversations/{id}/events/count")).Body.GetInt64());
        }
        finally
        {
            SyncServer.TryDelete(dir);
        }
    }

    [Fact]
    public async Task A_conversation_recovered_from_a_snapshot_replays_its_whole_history()
    {
        var dir = SyncServer.NewDataDirectory();
        var settings = new Dictionary<string, string?> { ["Limits:SnapshotEvery"] = "25", ["Limits:TailEvents"] = "10" };
        try
        {
            string id;
            string[] stored;
            await using (var first = await SyncServer.StartAsync(settings, dir))
            {
                id = await first.NewConversationAsync();
                stored = (await first.IngestAsync(id, Enumerable.Range(0, 60).Select(i => SyncServer.Message($"m{i}")).ToArray()))
                    .Select(i => i.GetProperty("id").GetString()!).ToArray();
            }

            await using var second = await SyncServer.StartAsync(settings, dir);
            await using var socket = await TestSocket.ConnectAsync(second.SocketUri(id, $"after_event_id={stored[4]}"));
            await socket.ReceiveJsonAsync();
            var replayed = new List<string>();
            for (var i = 5; i < 60; i++) replayed.Add((await socket.ReceiveJsonAsync()).Id());
            Assert.Equal(stored[5..], replayed);
            var (status, early) = await second.GetAsync($"/api/conversations/{id}/events/{stored[0]}");
            Assert.Equal(200, status);
            Assert.Equal(stored[0], early.Id());
        }
        finally
        {
            SyncServer.TryDelete(dir);
        }
    }
}
