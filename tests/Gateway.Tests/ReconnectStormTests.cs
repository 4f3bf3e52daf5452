using Akka.Actor;
using Akka.Sync.Gateway.Tests.Support;
using Akka.Sync.Gateway.Transport;
using Microsoft.Extensions.DependencyInjection;
using Xunit;
using Xunit.Abstractions;

namespace Akka.Sync.Gateway.Tests;

/// <summary>
/// Reconnect storm (issue 5): 200 sockets over 20 conversations drop and resume at random with after_event_id while
/// 20,000 events are ingested. Every socket ends with every event of its conversation exactly once, in order, and the
/// node's open-socket count returns to zero afterwards.
/// </summary>
public sealed class ReconnectStormTests(ITestOutputHelper output)
{
    [Fact]
    public async Task Two_hundred_sockets_reconnecting_at_random_during_20000_events_each_get_every_event_once_in_order()
    {
        const int conversations = 20, socketsPer = 10, eventsPer = 1000;
        await using var server = await SyncServer.StartAsync();
        var ids = new List<string>();
        for (var c = 0; c < conversations; c++) ids.Add(await server.NewConversationAsync());
        var system = server.Services.GetRequiredService<ActorSystem>();
        var baselineActors = await UserActors(system);
        var seed = Environment.TickCount;
        output.WriteLine($"seed {seed}");
        using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(120));

        var ingest = ids.Select(id => Task.Run(async () =>
        {
            var stored = new List<string>(eventsPer);
            for (var b = 0; b < eventsPer / 50; b++)
                stored.AddRange((await server.IngestAsync(id, Enumerable.Range(0, 50).Select(i => SyncServer.Message($"{b}.{i}")).ToArray()))
                    .Select(i => i.GetProperty("id").GetString()!));
            return stored;
        })).ToArray();

        var readers = ids.SelectMany((id, c) => Enumerable.Range(0, socketsPer).Select(async n =>
        {
            var (received, connections) = await ResumingReader.ReadAllAsync(server, id, eventsPer, new Random(seed + c * socketsPer + n), 400, deadline.Token);
            return (Conversation: c, Received: received, Connections: connections);
        })).ToArray();

        var storedByConversation = await Task.WhenAll(ingest);
        var results = await Task.WhenAll(readers);

        foreach (var (conversation, received, _) in results)
            Assert.Equal(storedByConversation[conversation], received);
        output.WriteLine($"{results.Sum(r => r.Connections)} connections in all");
        var budget = server.Services.GetRequiredService<SocketBudget>();
        var settle = DateTime.UtcNow.AddSeconds(15);
        while (budget.Open != 0 && DateTime.UtcNow < settle) await Task.Delay(20);
        Assert.Equal(0, budget.Open);
        // No connection actor outlives its socket: the user actors are back to what they were before the storm.
        var actors = await UserActors(system);
        while (actors != baselineActors && DateTime.UtcNow < settle.AddSeconds(15)) actors = await UserActors(system);
        output.WriteLine($"user actors: {baselineActors} before, {actors} after");
        Assert.Equal(baselineActors, actors);
    }

    /// <summary>How many actors live directly under /user (connection actors are created there, one per socket).</summary>
    private static async Task<int> UserActors(ActorSystem system)
    {
        var probe = system.ActorOf(Props.Create(() => new IdentityCounter()));
        system.ActorSelection("/user/*").Tell(new Identify(null), probe);
        var count = await probe.Ask<int>("count", TimeSpan.FromSeconds(5));
        system.Stop(probe);
        return count - 1; // the counter itself
    }

    /// <summary>Counts the ActorIdentity answers it receives until asked, after a short quiet period.</summary>
    private sealed class IdentityCounter : ReceiveActor, IWithTimers
    {
        public ITimerScheduler Timers { get; set; } = null!;

        public IdentityCounter()
        {
            var count = 0;
            Receive<ActorIdentity>(i => { if (i.Subject is not null) count++; });
            Receive<string>(_ =>
            {
                var replyTo = Sender;
                Timers.StartSingleTimer("flush", new Flush(replyTo), TimeSpan.FromMilliseconds(300));
            });
            Receive<Flush>(f => f.ReplyTo.Tell(count));
        }

        private sealed record Flush(IActorRef ReplyTo);
    }
}
