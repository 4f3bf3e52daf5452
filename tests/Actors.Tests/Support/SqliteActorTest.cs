using Akka.Actor;
using Akka.Configuration;
using Akka.Persistence.Sql;
using Akka.Sync.Actors.Conversations;
using Akka.Sync.Protocol;
using Xunit.Abstractions;

namespace Akka.Sync.Actors.Tests.Support;

/// <summary>
/// A TestKit whose ActorSystem persists to a real SQLite file in a temp directory of its own (journal,
/// snapshots and the query side), with every <see cref="ISyncMessage"/> bound to the product's serializer.
/// </summary>
public abstract class SqliteActorTest : Akka.TestKit.Xunit2.TestKit
{
    protected string DataDirectory { get; }
    protected string DatabaseFile => Path.Combine(DataDirectory, "test.db");

    protected SqliteActorTest(ITestOutputHelper output) : this(NewDirectory(), output) { }

    private SqliteActorTest(string dir, ITestOutputHelper output) : base(Config(dir), "actors", output)
    {
        DataDirectory = dir;
    }

    private static string NewDirectory()
    {
        var dir = Path.Combine(Path.GetTempPath(), "akka-sync-actor-tests", Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(dir);
        return dir;
    }

    private static Config Config(string dir)
    {
        var cs = $"Data Source={Path.Combine(dir, "test.db")}";
        return ConfigurationFactory.ParseString($$"""
            akka.loglevel = INFO
            akka.actor.serializers.akka-sync = "Akka.Sync.Actors.Serialization.SyncSerializer, Akka.Sync.Actors"
            akka.actor.serialization-bindings { "Akka.Sync.Protocol.ISyncMessage, Akka.Sync.Protocol" = akka-sync }
            akka.persistence.journal.plugin = "akka.persistence.journal.sql"
            akka.persistence.journal.sql { connection-string = "{{cs}}", provider-name = "SQLite.MS" }
            akka.persistence.snapshot-store.plugin = "akka.persistence.snapshot-store.sql"
            akka.persistence.snapshot-store.sql { connection-string = "{{cs}}", provider-name = "SQLite.MS" }
            akka.persistence.query.journal.sql { connection-string = "{{cs}}", provider-name = "SQLite.MS" }
            """)
            .WithFallback(SqlPersistence.DefaultConfiguration)
            .WithFallback(SqlPersistence.DefaultQueryConfiguration);
    }

    protected static ConversationSettings Settings(int tail = 2000, int snapshotEvery = 1000, int chunk = 500, TimeSpan? idle = null) =>
        ConversationSettings.Default with
        {
            DemoAgent = false,
            TailSize = tail,
            SnapshotEvery = snapshotEvery,
            ReplayChunk = chunk,
            IdleTimeout = idle ?? TimeSpan.FromMinutes(5),
            AbsentIdleTimeout = idle ?? TimeSpan.FromMinutes(5),
        };

    /// <summary>A stand-in for the shard region: one child entity per conversation (see <see cref="EntityParent"/>).</summary>
    protected IActorRef Region(ConversationSettings settings, IActorRef? directory = null) =>
        Sys.ActorOf(Props.Create(() => new EntityParent(settings, directory ?? CreateTestProbe().Ref)));

    protected static IncomingEvent Event(string kind = "MessageEvent", string source = "agent", string? id = null, string body = "{}") =>
        new(kind, source, id, System.Text.Encoding.UTF8.GetBytes(body));

    protected override void AfterAll()
    {
        base.AfterAll();
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        try { Directory.Delete(DataDirectory, recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
    }
}

/// <summary>
/// Routes <see cref="IWithConversationId"/> messages to one child <see cref="ConversationActor"/> per id, like a
/// shard region, and honours Passivate. <see cref="StopEntity"/> stops a child as a node loss or a rebalance would;
/// messages for it are held until it is gone, then delivered to a fresh incarnation that recovers from the journal.
/// </summary>
public sealed class EntityParent(ConversationSettings settings, IActorRef directory) : UntypedActor
{
    public sealed record StopEntity(ConversationId Id);
    public sealed record Passivated(ConversationId Id);

    private readonly Dictionary<string, IActorRef> _children = [];
    private readonly Dictionary<string, List<(object Message, IActorRef Sender)>> _held = [];
    private readonly HashSet<IActorRef> _passivationWatchers = [];

    protected override void OnReceive(object message)
    {
        switch (message)
        {
            case "watch-passivation":
                _passivationWatchers.Add(Sender);
                break;
            case StopEntity s when _children.TryGetValue(s.Id.Hex, out var child):
                _held.TryAdd(s.Id.Hex, []);
                Context.Stop(child);
                break;
            case Akka.Cluster.Sharding.Passivate p:
                var name = Sender.Path.Name;
                _held.TryAdd(name, []);
                Sender.Tell(p.StopMessage);
                foreach (var w in _passivationWatchers) w.Tell(new Passivated(ConversationId.Parse(name)));
                break;
            case Terminated t:
                var id = t.ActorRef.Path.Name;
                _children.Remove(id);
                if (_held.Remove(id, out var held))
                    foreach (var (m, sender) in held) ChildFor(id).Tell(m, sender);
                break;
            case IWithConversationId m:
                var hex = m.ConversationId.Hex;
                if (_held.TryGetValue(hex, out var waiting)) waiting.Add((message, Sender));
                else ChildFor(hex).Forward(message);
                break;
            default:
                Unhandled(message);
                break;
        }
    }

    private IActorRef ChildFor(string hex)
    {
        if (_children.TryGetValue(hex, out var child)) return child;
        child = Context.ActorOf(Props.Create(() => new ConversationActor(ConversationId.Parse(hex), settings, directory)), hex);
        Context.Watch(child);
        _children[hex] = child;
        return child;
    }
}
