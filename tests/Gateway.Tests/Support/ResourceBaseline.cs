using System.Diagnostics;
using Akka.Actor;
using Akka.Sync.Gateway.Transport;
using Microsoft.Extensions.DependencyInjection;
using Xunit;
using Xunit.Abstractions;

namespace Akka.Sync.Gateway.Tests.Support;

/// <summary>What a stress scenario must leave as it found it, on one server and in the test process.</summary>
public sealed record ResourceCounts(int Sockets, int Pumps, int Actors, int PoolThreads, long PendingWork, int OsThreads)
{
    public override string ToString() =>
        $"sockets {Sockets}, pumps {Pumps}, actors {Actors} (/user and connection actors), pool threads {PoolThreads}, pending work items {PendingWork}, OS threads {OsThreads}";
}

/// <summary>
/// Leak check for the stress scenarios: counts taken before the scenario (open sockets and running outbound pumps from
/// <see cref="SocketBudget"/>, the actors under <c>/user</c> and the connection actors (system actors, <c>/system/$…</c>), the thread pool's threads and queued work items,
/// the process's OS threads) and polled after it until they are back, with a deadline. Sockets, pumps and actors must
/// return exactly; threads are process-wide and the pool keeps idle threads for a while, so they must come back to
/// within a fixed slack that is far below one thread per socket; queued work must be seen drained (within a slack of two items) at least once after the scenario.
/// The thread counts are only meaningful when nothing else runs in the process: scenarios that use this are in
/// <see cref="StressCollection"/>, which xunit runs alone.
/// </summary>
public sealed class ResourceBaseline
{
    /// <summary>Extra pool or OS threads tolerated after a scenario (the pool may keep injected threads ~20 s).</summary>
    public static readonly int ThreadSlack = 8 * Environment.ProcessorCount + 8;

    private readonly SyncServer _server;
    private readonly ITestOutputHelper _output;

    private ResourceBaseline(SyncServer server, ITestOutputHelper output, ResourceCounts before)
    {
        _server = server;
        _output = output;
        Before = before;
    }

    public ResourceCounts Before { get; }

    public static async Task<ResourceBaseline> CaptureAsync(SyncServer server, ITestOutputHelper output)
    {
        var before = await CountAsync(server);
        output.WriteLine($"baseline: {before}");
        return new ResourceBaseline(server, output, before);
    }

    public static async Task<ResourceCounts> CountAsync(SyncServer server)
    {
        var budget = server.Services.GetRequiredService<SocketBudget>();
        var actors = await Actors(server.Services.GetRequiredService<ActorSystem>());
        using var process = Process.GetCurrentProcess();
        return new ResourceCounts(budget.Open, budget.Pumps, actors, ThreadPool.ThreadCount, ThreadPool.PendingWorkItemCount,
            process.Threads.Count);
    }

    /// <summary>
    /// Polls until every count is back (see the class summary), failing with the last counts at the deadline.
    /// <paramref name="processWide"/> false checks only this server's sockets, pumps and actors (for tests that run in
    /// parallel with others, where the process's threads are not theirs to count).
    /// </summary>
    public async Task AssertReturnedAsync(TimeSpan? within = null, bool processWide = true)
    {
        var deadline = DateTime.UtcNow + (within ?? TimeSpan.FromSeconds(30));
        ResourceCounts now;
        // Queued work is a snapshot of a moving count: it must be seen drained (at most the slack) at least once after
        // the sockets, pumps and actors are back, not necessarily in the same sample as the thread counts. Work that
        // never drains (stuck, or re-queued without end) still fails; the trace of what was seen is in the output.
        var drained = false;
        long leastPending = long.MaxValue, mostPending = 0;
        while (true)
        {
            now = await CountAsync(_server);
            var ownReturned = now.Sockets == Before.Sockets && now.Pumps == Before.Pumps && now.Actors == Before.Actors;
            if (ownReturned)
            {
                leastPending = Math.Min(leastPending, now.PendingWork);
                mostPending = Math.Max(mostPending, now.PendingWork);
                drained |= now.PendingWork <= Before.PendingWork + PendingSlack;
            }
            if (ownReturned && (!processWide || (drained && ThreadsReturned(now)))) break;
            if (DateTime.UtcNow > deadline) break;
            await Task.Delay(100); // polling interval, not synchronisation: the deadline bounds the wait
        }
        _output.WriteLine($"after:    {now}" + (leastPending == long.MaxValue ? "" : $"; pending work seen {leastPending}–{mostPending}"));
        Assert.Equal(Before.Sockets, now.Sockets);
        Assert.Equal(Before.Pumps, now.Pumps);
        Assert.Equal(Before.Actors, now.Actors);
        if (!processWide) return;
        Assert.True(drained, $"thread-pool work never drained: at least {leastPending} items queued in every sample");
        Assert.True(now.PoolThreads <= Before.PoolThreads + ThreadSlack, $"pool threads {Before.PoolThreads} → {now.PoolThreads}");
        Assert.True(now.OsThreads <= Before.OsThreads + ThreadSlack, $"OS threads {Before.OsThreads} → {now.OsThreads}");
    }

    /// <summary>Queued thread-pool items tolerated in a drained sample (a timer's or the poll's own continuation).</summary>
    private const int PendingSlack = 2;

    private bool ThreadsReturned(ResourceCounts now) =>
        now.PoolThreads <= Before.PoolThreads + ThreadSlack && now.OsThreads <= Before.OsThreads + ThreadSlack;

    /// <summary>
    /// How many actors live directly under /user, plus the connection actors: one per socket, created as system actors
    /// without a name (<c>/system/$…</c>; Akka.Remote's deployment lookup for a <c>/user</c> actor cost ~1.7 KB per connect,
    /// bench/NOTES.md "Issue 15, eleventh sitting"). The system guardian's named children (cluster, persistence, …) are
    /// not counted.
    /// </summary>
    public static async Task<int> Actors(ActorSystem system)
    {
        var probe = system.ActorOf(Props.Create(() => new IdentityCounter()));
        system.ActorSelection("/user/*").Tell(new Identify(null), probe);
        system.ActorSelection("/system/$*").Tell(new Identify(null), probe);
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

/// <summary>
/// The stress and abuse scenarios that measure process-wide figures (memory, threads, latency): xunit runs this
/// collection by itself, after the parallel ones, so no other test's load is counted in them.
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class StressCollection
{
    public const string Name = "Stress";
}
