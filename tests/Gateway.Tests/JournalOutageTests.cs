using System.Diagnostics;
using Akka.Sync.Gateway.Tests.Support;
using Xunit;
using Xunit.Abstractions;

namespace Akka.Sync.Gateway.Tests;

/// <summary>
/// Journal outage: the SQLite files are made immutable (chattr +i, which binds root too). Ingest and messages answer
/// 503 / an error frame, sockets stay up, nothing is acknowledged that was not stored, and service resumes when the
/// files are writable again.
/// </summary>
[Trait("Category", "Stress")]
public sealed class JournalOutageTests(ITestOutputHelper output)
{
    private static void Chattr(string flag, string dir)
    {
        // Not the -shm file: SQLite maps it into memory, and a write fault there would kill the process, not the write.
        foreach (var file in Directory.GetFiles(dir, "akka-sync.db*").Where(f => !f.EndsWith("-shm", StringComparison.Ordinal)))
        {
            using var p = Process.Start(new ProcessStartInfo("chattr", [flag, file]) { RedirectStandardError = true })!;
            p.WaitForExit();
            if (p.ExitCode != 0) throw new InvalidOperationException($"chattr {flag} {file}: {p.StandardError.ReadToEnd()}");
        }
    }

    [Fact]
    public async Task While_the_journal_cannot_be_written_ingest_answers_503_sockets_stay_up_and_service_resumes()
    {
        await using var server = await SyncServer.StartAsync(new Dictionary<string, string?>
        {
            ["Limits:AskTimeout"] = "00:00:03",
        });
        var id = await server.NewConversationAsync();
        var before = await server.IngestAsync(id, [SyncServer.Message("before")]);
        await using var socket = await TestSocket.ConnectAsync(server.SocketUri(id, "resend_all=true"));
        await socket.ReceiveJsonAsync();
        Assert.Equal(before[0].GetProperty("id").GetString(), (await socket.ReceiveJsonAsync()).Id());

        Chattr("+i", server.DataDirectory);
        var refused = new List<string>();
        try
        {
            for (var i = 0; i < 3; i++)
            {
                var eventId = Guid.NewGuid().ToString("D");
                var (status, body) = await server.SendAsync(HttpMethod.Post, $"/api/conversations/{id}/agent/events",
                    new[] { new { kind = "MessageEvent", source = "agent", id = eventId } });
                output.WriteLine($"during the outage: {status} {body}");
                Assert.Equal(503, status);
                refused.Add(eventId);
            }
            await socket.SendTextAsync("""{"role":"user","content":[{"type":"text","text":"during the outage"}]}""");
            var error = await socket.ReceiveJsonAsync(TimeSpan.FromSeconds(20));
            Assert.Equal("ConversationErrorEvent", error.Kind());
            Assert.Equal("unavailable", error.GetProperty("code").GetString());
            Assert.Equal(System.Net.WebSockets.WebSocketState.Open, socket.State);
        }
        finally
        {
            Chattr("-i", server.DataDirectory);
        }

        // Service resumes: the socket, still open, gets the next event; nothing refused was stored.
        var after = await ResumeIngest(server, id);
        Assert.Equal(2, after.GetProperty("seq").GetInt64());
        Assert.Equal(after.GetProperty("id").GetString(), (await socket.ReceiveJsonAsync(TimeSpan.FromSeconds(30))).Id());
        Assert.Equal(2, (await server.GetAsync($"/api/conversations/{id}/events/count")).Body.GetInt64());
        foreach (var eventId in refused)
            Assert.Equal(404, (await server.GetAsync($"/api/conversations/{id}/events/{eventId}")).Status);
    }

    /// <summary>The first ingest after the outage may meet the entity still restarting: retry briefly (bounded).</summary>
    private static async Task<System.Text.Json.JsonElement> ResumeIngest(SyncServer server, string id)
    {
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (true)
        {
            var (status, body) = await server.SendAsync(HttpMethod.Post, $"/api/conversations/{id}/agent/events", new[] { SyncServer.Message("after") });
            if (status == 200) return body.GetProperty("items")[0];
            Assert.True(status == 503 && DateTime.UtcNow < deadline, $"service did not resume: {status}");
        }
    }
}
