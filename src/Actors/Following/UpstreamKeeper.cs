using Akka.Actor;
using Akka.Cluster.Hosting;
using Akka.Event;
using Akka.Hosting;
using Akka.Sync.Actors.Conversations;
using Akka.Sync.Protocol;

namespace Akka.Sync.Actors.Following;

/// <summary>
/// A cluster singleton that keeps every bound conversation's follower running: each interval it asks the directory
/// which conversations follow an upstream and sends each a <see cref="UpstreamCommands.Wake"/>. A conversation's entity
/// (and so its follower) does not passivate while bound; this restarts it where its shard lives now after its node
/// died, left or restarted, even when no client asks for it. Waking a running entity costs one message.
/// </summary>
public sealed class UpstreamKeeper : ReceiveActor, IWithTimers
{
    private sealed record Tick;

    private readonly ILoggingAdapter _log = Context.GetLogger();

    public ITimerScheduler Timers { get; set; } = null!;

    private readonly TimeSpan _interval;

    public UpstreamKeeper(IActorRef directory, IActorRef region, TimeSpan interval)
    {
        _interval = interval;
        Receive<Tick>(_ => directory.Ask<DirectoryQueries.FollowedResult>(new DirectoryQueries.Followed(), interval)
            .PipeTo(Self, failure: e => new Status.Failure(e)));
        Receive<DirectoryQueries.FollowedResult>(r =>
        {
            foreach (var id in r.Ids) region.Tell(new UpstreamCommands.Wake(id));
        });
        Receive<Status.Failure>(f => _log.Debug("The directory did not list bound conversations in time: {0}", f.Cause.Message));
    }

    protected override void PreStart() => Timers.StartPeriodicTimer("tick", new Tick(), TimeSpan.Zero, _interval);
}

/// <summary>Registry key of the keeper singleton.</summary>
public sealed class UpstreamKeeperKey;

public static class UpstreamKeeperHosting
{
    public static AkkaConfigurationBuilder AddUpstreamKeeper(this AkkaConfigurationBuilder builder, UpstreamSettings settings) =>
        builder.WithSingleton<UpstreamKeeperKey>("upstream-keeper",
            (_, registry, _) => Props.Create(() => new UpstreamKeeper(
                registry.Get<ConversationDirectoryKey>(), registry.Get<ConversationRegion>(), settings.KeepAliveInterval)),
            new ClusterSingletonOptions { Role = ConversationHosting.Role },
            createProxyToo: false);
}
