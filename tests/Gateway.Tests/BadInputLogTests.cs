using System.Text;
using Akka.Sync.Gateway.Tests.Support;
using Xunit;
using Xunit.Abstractions;

namespace Akka.Sync.Gateway.Tests;

/// <summary>
/// A corpus of malformed input on every surface: each gets its contract error, the server stays healthy, nothing is
/// stored, no expected error leaves a stack trace in the log, and every socket, pump, connection actor and thread is
/// released afterwards.
/// </summary>
[Trait("Category", "Stress"), Collection(StressCollection.Name)]
public sealed class BadInputLogTests(ITestOutputHelper output)
{
    [Fact]
    public async Task Malformed_input_everywhere_gets_clear_errors_and_no_stack_traces()
    {
        var logs = new LogCapture();
        await using var server = await SyncServer.StartAsync(new Dictionary<string, string?> { ["Limits:MaxFrameBytes"] = "65536" }, logs: logs);
        var id = await server.NewConversationAsync();
        var v0 = (await server.CreateConversationAsync(new { protocol = "v0" })).GetProperty("id").GetString()!;
        var baseline = await ResourceBaseline.CaptureAsync(server, output);

        var rest = new (string Method, string Path, string Body, int Status)[]
        {
            ("POST", "/api/conversations", "{\"conversation_id\":\"'; DROP TABLE journal; --\"}", 400),
            ("POST", "/api/conversations", new string('[', 5000), 400),
            ("POST", $"/api/conversations/{id}/agent/events", "[{\"kind\":1,\"source\":\"agent\"}]", 400),
            ("POST", $"/api/conversations/{id}/agent/events", "[{\"kind\":\"X\",\"source\":\"agent\",\"x\":\"\\u0000\"}]", 200), // an escaped NUL is fine JSON
            ("POST", $"/api/conversations/{id}/agent/events", "[{\"kind\":\"X\",\"source\":\"agent\",\"x\":\"\u0000\"}]", 400),  // a raw one is not
            ("POST", $"/api/conversations/{id}/agent/events", "\"just a string\"", 400),
            ("POST", $"/api/conversations/{id}/events", "{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":" + new string('9', 400) + "}]}", 400),
            ("GET", "/api/conversations/..%2F..%2Fetc%2Fpasswd", "", 400),
            ("GET", $"/api/conversations/{id}/events/search?limit=-1", "", 400),
            ("GET", $"/api/conversations/{id}/events/search?timestamp__gte=%00", "", 400),
            ("POST", $"/api/conversations/{v0}/agent/events", "[{\"action\":\"message\",\"source\":\"agent\",\"args\":{\"content\":7}}]", 400),
        };
        foreach (var (method, path, body, status) in rest)
        {
            var (actual, _) = await server.SendAsync(new HttpMethod(method), path, body.Length == 0 ? null : body);
            Assert.True(actual == status, $"{method} {path}: {actual}");
        }

        await using (var socket = await TestSocket.ConnectAsync(server.SocketUri(id)))
        {
            await socket.ReceiveJsonAsync();
            foreach (var frame in new[] { "", "null", "{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":{}}]}", new string('{', 100) })
            {
                await socket.SendTextAsync(frame);
                Assert.Equal("bad_frame", (await socket.ReceiveJsonAsync()).GetProperty("code").GetString());
            }
            await socket.SendBinaryAsync(Encoding.UTF8.GetBytes("{\"role\":\"user\"}"));
            Assert.Equal("bad_frame", (await socket.ReceiveJsonAsync()).GetProperty("code").GetString());
            await socket.SendTextAsync(new string('x', 70_000));
            Assert.Empty(await socket.ReadUntilClosedAsync());
            Assert.Equal(1009, (int)socket.CloseStatus!);
        }
        foreach (var query in new[] { "after_event_id=%27", "resend_mode=since&after_timestamp=%00" })
            Assert.Equal(400, await TestSocket.ConnectRefusedAsync(server.SocketUri(id, query)));

        Assert.Equal(200, (int)(await server.Http.GetAsync("/ready")).StatusCode);
        Assert.Equal(1, (await server.GetAsync($"/api/conversations/{id}/events/count")).Body.GetInt64());
        var traces = logs.Lines.Where(l => l.Contains("Exception") || l.Contains("   at ")).ToList();
        Assert.True(traces.Count == 0, string.Join("\n---\n", traces.Take(3)));
        await baseline.AssertReturnedAsync();
    }
}
