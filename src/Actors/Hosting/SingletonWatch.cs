using Akka.Actor;
using Akka.Event;
using Akka.Hosting;
using Akka.Sync.Actors.Conversations;
using Akka.Sync.Actors.Preferences;
using Akka.Sync.Protocol;

namespace Akka.Sync.Actors.Hosting;

/// <summary>
/// Warns when one of the node's cluster singletons (the conversation directory, the clients' preferences) has not
/// answered a query sent through its proxy for <see cref="SingletonWatch.Period"/>, and says so again when it answers.
/// Once the node is Up it asks each singleton a cheap query through its proxy, and again one period after each answer.
/// </summary>
/// <remarks>
/// It stands in for Akka's own check (<c>akka.cluster.singleton-proxy.log-singleton-identification-failure</c>, off in
/// akka.hocon): Akka.Cluster.Tools 1.5.73 starts that check's timer with no initial delay, so every proxy warned
/// "failed to find an associated singleton … after 30 seconds" the moment it started looking, at every node start and
/// every stop, with the singleton found in the same millisecond (akkadotnet/akka.net#8568). A query answered through the
/// proxy also covers what identification does not: a singleton found but not answering.
/// </remarks>
public sealed class SingletonWatch : ReceiveActor, IWithTimers
{
    /// <summary>A singleton to watch: its name (for the log), its proxy, and a query it answers whatever its state.</summary>
    public sealed record Singleton(string Name, IActorRef Proxy, object Query);

    private sealed record Ask(int Index);
    private sealed record Answered(int Index);
    private sealed record Missed(int Index);
    private sealed class Start
    {
        public static readonly Start Instance = new();
    }

    private readonly ILoggingAdapter _log = Context.GetLogger();
    private readonly Singleton[] _singletons;
    private readonly TimeSpan _period;
    private readonly bool[] _missing; // warned about since its last answer
    private readonly bool _afterMemberUp;
    private long _answers;

    public ITimerScheduler Timers { get; set; } = null!;

    /// <param name="singletons">What to watch.</param>
    /// <param name="period">How long a query may go unanswered before the warning; also the time between queries.</param>
    /// <param name="afterMemberUp">Start once this node is an Up cluster member (the server); false: at once (tests).</param>
    public SingletonWatch(IReadOnlyList<Singleton> singletons, TimeSpan period, bool afterMemberUp = true)
    {
        _singletons = [.. singletons];
        _period = period;
        _missing = new bool[_singletons.Length];
        _afterMemberUp = afterMemberUp;

        Receive<Start>(_ =>
        {
            for (var i = 0; i < _singletons.Length; i++) Query(i);
        });
        Receive<Ask>(a => Query(a.Index));
        Receive<Answered>(a =>
        {
            _answers++;
            if (_missing[a.Index])
            {
                _missing[a.Index] = false;
                _log.Info("The {0} singleton answers through its proxy again", _singletons[a.Index].Name);
            }
            Timers.StartSingleTimer(a.Index, new Ask(a.Index), _period);
        });
        Receive<Missed>(m =>
        {
            _missing[m.Index] = true;
            _log.Warning("The {0} singleton has not answered through its proxy for {1} s: no node with the conversation " +
                         "role is Up, or the singleton is stuck or being handed over; what needs it waits (docs/operations.md)",
                _singletons[m.Index].Name, _period.TotalSeconds);
            Query(m.Index); // the query itself waits a period
        });
        Receive<Probe>(_ => Sender.Tell(new Answers(_answers, _missing.Count(x => x))));
    }

    /// <summary>For tests: the answers counted so far, and how many singletons are warned about now.</summary>
    public sealed record Probe
    {
        public static readonly Probe Instance = new();
    }

    /// <summary>The reply to <see cref="Probe"/>.</summary>
    public sealed record Answers(long Count, int Missing);

    /// <summary>The time a query may wait, from <c>akka.cluster.singleton-proxy.singleton-identification-failure-period</c>.</summary>
    public static TimeSpan Period(ActorSystem system) =>
        system.Settings.Config.GetTimeSpan("akka.cluster.singleton-proxy.singleton-identification-failure-period", TimeSpan.FromSeconds(30));

    protected override void PreStart()
    {
        if (!_afterMemberUp)
        {
            Self.Tell(Start.Instance);
            return;
        }
        var self = Self;
        Akka.Cluster.Cluster.Get(Context.System).RegisterOnMemberUp(() => self.Tell(Start.Instance));
    }

    private void Query(int index)
    {
        var singleton = _singletons[index];
        singleton.Proxy.Ask<object>(singleton.Query, _period)
            .PipeTo(Self, success: _ => new Answered(index), failure: _ => new Missed(index));
    }
}

public static class SingletonWatchHosting
{
    /// <summary>The watch over the directory and preferences singletons, at <c>/user/singleton-watch</c>.</summary>
    public static AkkaConfigurationBuilder AddSingletonWatch(this AkkaConfigurationBuilder builder) =>
        builder.WithActors((system, registry) => system.ActorOf(Props.Create(() => new SingletonWatch(
            new SingletonWatch.Singleton[]
            {
                new("conversation-directory", registry.Get<ConversationDirectoryKey>(), new DirectoryQueries.Count(null)),
                new("client-preferences", registry.Get<PreferencesKey>(), ClientPreferences.Get.Instance),
            },
            SingletonWatch.Period(system), true)), "singleton-watch"));
}
