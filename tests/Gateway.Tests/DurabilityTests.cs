using System.Diagnostics;
using System.Text.Json;
using Akka.Actor;
using Akka.Sync.Actors.Conversations;
using Akka.Sync.Gateway.Tests.Support;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.DependencyInjection;
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

    /// <summary>
    /// Reads never take SQLite's write lock: a conversation recovering (snapshot, replay, highest sequence number) and a
    /// socket replaying its history are served while another connection holds the lock. Akka.Persistence.Sql reads in a
    /// transaction, which Microsoft.Data.Sqlite began with <c>BEGIN IMMEDIATE</c>: each read then waited for the lock,
    /// in 150 ms sleeps, until it timed out (and under concurrent creates half of all writes waited 100–250 ms).
    /// </summary>
    [Fact]
    public async Task A_conversation_recovers_and_replays_while_another_connection_holds_the_sqlite_write_lock()
    {
        var dir = SyncServer.NewDataDirectory();
        try
        {
            string id;
            string[] stored;
            await using (var first = await SyncServer.StartAsync(dataDirectory: dir))
            {
                id = await first.NewConversationAsync();
                stored = (await first.IngestAsync(id, Enumerable.Range(0, 5).Select(i => SyncServer.Message($"m{i}")).ToArray()))
                    .Select(i => i.Id()).ToArray();
            }

            await using var second = await SyncServer.StartAsync(dataDirectory: dir);
            // A running node has its journal started (it creates its tables, a write, once): here another conversation's
            // creation does that before the lock is taken, so only the reads of this conversation's recovery meet it.
            await second.NewConversationAsync();
            await using (var holder = new SqliteConnection($"Data Source={Path.Combine(dir, "akka-sync.db")};Pooling=False"))
            {
                await holder.OpenAsync();
                using var writeLock = holder.BeginTransaction(deferred: false); // BEGIN IMMEDIATE: SQLite's one write lock
                using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(8)); // under the ask timeout (10 s)
                using var response = await second.Http.GetAsync($"/api/conversations/{id}/events/search?limit=100", timeout.Token);
                Assert.Equal(200, (int)response.StatusCode);
                using var page = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
                var found = page.RootElement.GetProperty("items").EnumerateArray().Select(e => e.Id()).ToList();
                Assert.Equal(stored, found.Where(stored.Contains));

                await using var socket = await TestSocket.ConnectAsync(second.SocketUri(id, "resend_all=true"));
                var replayed = new List<string>(); // the socket's first frame is the conversation's state, then the history
                while (!replayed.Contains(stored[^1]) && replayed.Count <= found.Count + 1) replayed.Add((await socket.ReceiveJsonAsync()).Id());
                Assert.Equal(stored, replayed.Where(stored.Contains));
                writeLock.Rollback();
            }

            // Writes go on once the lock is released: nothing stored twice, the next seq follows.
            var next = await second.IngestAsync(id, [SyncServer.Message("after the lock")]);
            Assert.True(next[0].GetProperty("seq").GetInt64() > stored.Length);
            Assert.Equal(stored.Length + 1, (await second.GetAsync($"/api/conversations/{id}/events/count?kind=MessageEvent")).Body.GetInt64());
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

    /// <summary>
    /// A conversation long enough for many snapshots, restarted: its index comes back from the state snapshot and the
    /// index segments, and every read, resume and retry is answered as before the restart.
    /// </summary>
    [Fact]
    public async Task A_long_conversation_answers_reads_resumes_and_retries_the_same_after_a_restart()
    {
        var dir = SyncServer.NewDataDirectory();
        var settings = new Dictionary<string, string?> { ["Limits:SnapshotEvery"] = "50", ["Limits:TailEvents"] = "20" };
        string[] reads = ["count", "count?kind=ActionEvent", "count?source=user", "search?limit=25", "search?limit=25&sort_order=TIMESTAMP_DESC",
            "search?limit=10&kind=openhands.sdk.event.ObservationEvent", "search?limit=10&source=user&sort_order=TIMESTAMP_DESC"];
        try
        {
            string id;
            string[] stored;
            var before = new List<string>();
            await using (var first = await SyncServer.StartAsync(settings, dir))
            {
                id = await first.NewConversationAsync();
                var ids = new List<string>();
                for (var batch = 0; batch < 6; batch++)
                {
                    var items = await first.IngestAsync(id, Enumerable.Range(0, 100).Select(i => (object)new
                    {
                        kind = (i % 3) switch { 0 => "MessageEvent", 1 => "ActionEvent", _ => "ObservationEvent" },
                        source = i % 4 == 0 ? "user" : "agent",
                        id = Guid.NewGuid().ToString("D"),
                        n = batch * 100 + i,
                    }).ToArray());
                    ids.AddRange(items.Select(i => i.GetProperty("id").GetString()!));
                }
                stored = ids.ToArray();
                foreach (var read in reads.Append($"search?limit=7&page_id={stored[123]}").Append(stored[7]))
                    before.Add((await first.GetAsync($"/api/conversations/{id}/events/{read}")).Body.GetRawText());
            }

            await using var second = await SyncServer.StartAsync(settings, dir);
            var after = new List<string>();
            foreach (var read in reads.Append($"search?limit=7&page_id={stored[123]}").Append(stored[7]))
                after.Add((await second.GetAsync($"/api/conversations/{id}/events/{read}")).Body.GetRawText());
            Assert.Equal(before, after);
            Assert.Equal("600", after[0]);
            // The server's own persistence settings let the index segments be read with one direct query (the path
            // recovery takes), and the segments cover this conversation's whole index. Segments are saved in the
            // background, one at a time, each holding every entry waiting when it starts (at least SnapshotEvery): how
            // the 600 entries split depends on how fast the saves run (6 × 100 on a quiet machine; a loaded CI run saved
            // 1..100, 101..300, 301..600), and the stopped node's unsaved part is saved by the recovery. Wait, bounded,
            // until they reach seq 600, then check they are contiguous from 1 and each at least SnapshotEvery long.
            var system = second.Services.GetRequiredService<ActorSystem>();
            var waited = Stopwatch.StartNew();
            List<IndexSegment> segments;
            while ((segments = (await JournalReader.ReadSnapshots(system, IndexSegments.PersistenceIdOf("conversation-" + id))!)
                       .OfType<IndexSegment>().OrderBy(s => s.FirstSeq).ToList()) is var found
                   && (found.Count == 0 || found[^1].LastSeq < 600)
                   && waited.Elapsed < TimeSpan.FromSeconds(30))
                await Task.Delay(50); // polling the snapshot table, bounded
            var covered = string.Join(", ", segments.Select(s => $"{s.FirstSeq}..{s.LastSeq}"));
            Assert.NotEmpty(segments);
            Assert.Equal(1, segments[0].FirstSeq);
            Assert.Equal(600, segments[^1].LastSeq);
            for (var i = 1; i < segments.Count; i++) Assert.True(segments[i].FirstSeq == segments[i - 1].LastSeq + 1, $"segments {covered}");
            Assert.All(segments, s => Assert.True(s.LastSeq - s.FirstSeq + 1 >= 50, $"segments {covered}"));

            // A resume from an early event, long out of the tail and under many snapshots, gets exactly the rest.
            await using (var socket = await TestSocket.ConnectAsync(second.SocketUri(id, $"after_event_id={stored[9]}")))
            {
                await socket.ReceiveJsonAsync(); // full_state
                var replayed = new List<string>();
                for (var i = 10; i < 600; i++) replayed.Add((await socket.ReceiveJsonAsync()).Id());
                Assert.Equal(stored[10..], replayed);
            }
            // Retries of ids stored before the restart, early and late, are acknowledged with their seqs, not stored.
            var retry = await second.IngestAsync(id, [new { kind = "MessageEvent", source = "agent", id = stored[2] },
                new { kind = "MessageEvent", source = "agent", id = stored[598] }, SyncServer.Message("new")]);
            Assert.Equal([3L, 599L, 601L], retry.Select(r => r.GetProperty("seq").GetInt64()));
            Assert.Equal(601, (await second.GetAsync($"/api/conversations/{id}/events/count")).Body.GetInt64());
        }
        finally
        {
            SyncServer.TryDelete(dir);
        }
    }
}
