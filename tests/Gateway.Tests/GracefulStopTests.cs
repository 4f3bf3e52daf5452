using System.Net.WebSockets;
using Akka.Sync.Gateway.Tests.Support;
using Akka.Sync.Gateway.Transport;
using Microsoft.Extensions.DependencyInjection;
using Xunit;

namespace Akka.Sync.Gateway.Tests;

/// <summary>
/// Issue 14 §3, one node's side of a rolling restart: a node that stops closes its sockets with 1012 (reconnect now, to
/// another node, with your last event id) after what it already sent them, and while it stops it is not ready and
/// sends new sockets elsewhere the same way.
/// </summary>
public sealed class GracefulStopTests
{
    [Fact]
    public async Task Stopping_a_node_closes_its_sockets_with_1012_after_the_events_it_already_sent()
    {
        var server = await SyncServer.StartAsync();
        var stopped = false;
        try
        {
            var id = await server.NewConversationAsync();
            await using var v1 = await TestSocket.ConnectAsync(server.SocketUri(id));
            Assert.Equal("full_state", (await v1.ReceiveJsonAsync()).GetProperty("key").GetString());
            await using var v0 = await TestSocket.ConnectAsync(new Uri($"ws://{server.BaseUri.Authority}/socket.io/?EIO=4&transport=websocket"));
            Assert.StartsWith("0{", await v0.ReceiveTextAsync());
            await server.IngestAsync(id, [SyncServer.Message("a"), SyncServer.Message("b")]);

            var stopping = server.DisposeAsync().AsTask();
            stopped = true;

            var frames = await v1.ReadUntilClosedAsync();
            Assert.Equal(["a", "b"], frames.Select(f => f.GetProperty("llm_message").GetProperty("content")[0].GetProperty("text").GetString()));
            Assert.Equal((WebSocketCloseStatus)1012, v1.CloseStatus);
            Assert.Equal(SocketBudget.RestartReason, v1.CloseDescription);
            await v1.AnswerCloseAsync();
            await v0.ReadUntilClosedRawAsync();
            Assert.Equal((WebSocketCloseStatus)1012, v0.CloseStatus);
            await v0.AnswerCloseAsync();
            await stopping.WaitAsync(TimeSpan.FromSeconds(30));
        }
        finally
        {
            if (!stopped) await server.DisposeAsync();
        }
    }

    [Fact]
    public async Task A_node_that_has_started_stopping_is_not_ready_and_closes_a_new_socket_with_1012_before_anything_else()
    {
        await using var server = await SyncServer.StartAsync();
        var id = await server.NewConversationAsync();

        server.Services.GetRequiredService<SocketBudget>().StopAccepting(); // what the start of a stop does first

        Assert.Equal(503, (int)(await server.Http.GetAsync("/ready")).StatusCode);
        await using var socket = await TestSocket.ConnectAsync(server.SocketUri(id, "resend_all=true"));
        Assert.Empty(await socket.ReadUntilClosedAsync());
        Assert.Equal((WebSocketCloseStatus)1012, socket.CloseStatus);
    }
}
