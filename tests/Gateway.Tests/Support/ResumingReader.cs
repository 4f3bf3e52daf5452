namespace Akka.Sync.Gateway.Tests.Support;

/// <summary>
/// A client that keeps dropping its socket after a random number of events and resuming with
/// <c>after_event_id</c>, until it has <c>total</c> events. Returns the event ids in the order received.
/// </summary>
public static class ResumingReader
{
    public static async Task<(List<string> Received, int Connections)> ReadAllAsync(SyncServer server, string conversationId, int total,
        Random random, int maxPerConnection, CancellationToken deadline)
    {
        var received = new List<string>(total);
        var connections = 0;
        while (received.Count < total)
        {
            deadline.ThrowIfCancellationRequested();
            var query = received.Count == 0 ? "resend_all=true" : $"after_event_id={received[^1]}";
            await using var socket = await TestSocket.ConnectAsync(server.SocketUri(conversationId, query));
            connections++;
            await socket.ReceiveJsonAsync(TimeSpan.FromSeconds(60)); // full_state
            var take = random.Next(1, maxPerConnection);
            for (var i = 0; i < take && received.Count < total; i++)
                received.Add((await socket.ReceiveJsonAsync(TimeSpan.FromSeconds(60))).Id());
        }
        return (received, connections);
    }
}
