using Akka.Actor;
using Akka.Sync.Actors.Hosting;
using Akka.Sync.Gateway.Tests.Support;
using Microsoft.Extensions.DependencyInjection;
using Xunit;

namespace Akka.Sync.Gateway.Tests;

/// <summary>
/// A node's start and stop log no false alarm about its singletons: Akka.Cluster.Tools 1.5.73's proxies warned "failed
/// to find an associated singleton … after 30 seconds" the moment they started looking, at every start and stop
/// (akkadotnet/akka.net#8568); <see cref="SingletonWatch"/> replaces that check.
/// </summary>
public sealed class NodeStartLogTests
{
    [Fact]
    public async Task A_node_start_and_stop_log_no_singleton_warning_and_the_watch_hears_both_singletons_answer()
    {
        var logs = new LogCapture();
        await using (var server = await SyncServer.StartAsync(logs: logs))
        {
            var system = server.Services.GetRequiredService<ActorSystem>();
            var watch = await system.ActorSelection("/user/singleton-watch").ResolveOne(TimeSpan.FromSeconds(10));
            var deadline = DateTime.UtcNow.AddSeconds(30);
            SingletonWatch.Answers answers;
            while (true) // both singletons answer their first query once the node is Up (bounded)
            {
                answers = await watch.Ask<SingletonWatch.Answers>(SingletonWatch.Probe.Instance, TimeSpan.FromSeconds(5));
                if (answers.Count >= 2 || DateTime.UtcNow > deadline) break;
                await Task.Delay(50);
            }
            Assert.Equal(new SingletonWatch.Answers(2, 0), answers);
        }

        var singletonLines = logs.Lines.Where(l => l.Contains("singleton", StringComparison.OrdinalIgnoreCase)).ToList();
        Assert.True(singletonLines.Count == 0, "logged about singletons:\n" + string.Join('\n', singletonLines));
    }
}
