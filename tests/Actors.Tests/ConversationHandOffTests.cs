using System.Collections.Concurrent;
using System.Collections.Immutable;
using Akka.Actor;
using Akka.Cluster;
using Akka.Cluster.Sharding;
using Akka.Sync.Actors.Conversations;
using Akka.Sync.Actors.Tests.Support;
using Akka.Sync.Protocol;
using Xunit;
using Xunit.Abstractions;
using static Akka.Sync.Protocol.ConversationCommands;
using static Akka.Sync.Protocol.ConversationQueries;
using static Akka.Sync.Protocol.ConversationReplies;

namespace Akka.Sync.Actors.Tests;

/// <summary>
/// A real Cluster Sharding hand-off, in a one-node cluster: the coordinator rebalances a conversation's shard (on
/// request, through an allocation strategy the test controls), the shard stops its entities with the product's
/// hand-off stop message, and the next message starts the conversation again from a fresh allocation of the shard.
/// </summary>
public sealed class ConversationHandOffTests(ITestOutputHelper output) : SqliteActorTest(output, """
    akka.actor.provider = cluster
    akka.remote.dot-netty.tcp { hostname = "127.0.0.1", port = 0 }
    akka.cluster.sharding.rebalance-interval = 100ms
    # As the product runs its region (ConversationHosting): coordinator state in distributed data, no remembered entities.
    akka.cluster.sharding.state-store-mode = ddata
    akka.cluster.sharding.remember-entities = off
    """)
{
    private const string TypeName = "conversation";

    /// <summary>Allocates every shard to the asking region; rebalances a shard once, when asked to.</summary>
    private sealed class HandOffOnRequest : IShardAllocationStrategy
    {
        private readonly ConcurrentQueue<string> _requested = new();
        private readonly ConcurrentDictionary<string, int> _allocations = new();

        public void HandOff(string shard) => _requested.Enqueue(shard);

        public int Allocations(string shard) => _allocations.GetValueOrDefault(shard);

        public Task<IActorRef> AllocateShard(IActorRef requester, string shardId, IImmutableDictionary<IActorRef, IImmutableList<string>> currentShardAllocations)
        {
            _allocations.AddOrUpdate(shardId, 1, (_, n) => n + 1);
            return Task.FromResult(requester);
        }

        public Task<IImmutableSet<string>> Rebalance(IImmutableDictionary<IActorRef, IImmutableList<string>> currentShardAllocations, IImmutableSet<string> rebalanceInProgress)
        {
            IImmutableSet<string> shards = ImmutableHashSet<string>.Empty;
            while (_requested.TryDequeue(out var shard)) shards = shards.Add(shard);
            return Task.FromResult(shards);
        }
    }

    private IActorRef StartRegion(IShardAllocationStrategy strategy)
    {
        var cluster = Akka.Cluster.Cluster.Get(Sys);
        cluster.RegisterOnMemberUp(() => TestActor.Tell("up"));
        cluster.Join(cluster.SelfAddress);
        ExpectMsg("up", Wait);
        var settings = Settings();
        var directory = CreateTestProbe().Ref;
        return ClusterSharding.Get(Sys).Start(TypeName,
            entityId => Props.Create(() => new ConversationActor(ConversationId.Parse(entityId), settings, directory)),
            ClusterShardingSettings.Create(Sys), new ConversationMessageExtractor(ConversationHosting.MaxShards), strategy,
            ConversationHosting.HandOffStopMessage);
    }

    /// <summary>The actor at a path now, or null.</summary>
    private IActorRef? Resolve(string path)
    {
        var probe = CreateTestProbe();
        Sys.ActorSelection(path).Tell(new Identify(path), probe.Ref);
        return probe.ExpectMsg<ActorIdentity>(Wait).Subject;
    }

    [Fact]
    public void A_shard_hand_off_answers_the_write_in_flight_before_the_entity_stops()
    {
        var strategy = new HandOffOnRequest();
        var region = StartRegion(strategy);
        var id = CreateConversation(region);
        var shard = ConversationHosting.ShardOf(id);
        var shardPath = $"/system/sharding/{TypeName}/{shard}";
        var entity = Resolve($"{shardPath}/{id.Hex}") ?? throw new InvalidOperationException("no entity");
        var shardActor = Resolve(shardPath) ?? throw new InvalidOperationException("no shard");
        var watcher = CreateTestProbe();
        watcher.Watch(entity);
        var allocated = strategy.Allocations(shard);

        using (var blocker = OpenDatabase())
        {
            // Another writer holds SQLite's write lock: the batch below stays in flight until it lets go.
            using (var begin = blocker.CreateCommand())
            {
                begin.CommandText = "BEGIN IMMEDIATE";
                begin.ExecuteNonQuery();
            }
            region.Tell(new AppendEvents(id, Events(200)));
            region.Tell(new GetInfo(id)); // the same way as the append, so answered once the append is being written
            ExpectMsg<InfoResult>(Wait);

            // The hand-off (a rebalance, as when a node joins or leaves): the shard's HandOffStopper sends the entity the
            // hand-off stop message as it starts, so once the stopper is there the stop is in the entity's mailbox.
            strategy.HandOff(shard);
            AwaitAssert(() => Assert.True(watcher.HasMessages || Resolve($"{shardPath}/HandOffStopper") is not null), Wait);
            Assert.False(watcher.HasMessages, "the entity stopped at the hand-off with a write in flight");
            entity.Tell(new GetInfo(id)); // behind the stop message
            ExpectMsg<InfoResult>(Wait, "the entity is gone: it stopped at the hand-off with a write in flight");

            using var rollback = blocker.CreateCommand();
            rollback.CommandText = "ROLLBACK";
            rollback.ExecuteNonQuery();
        }

        var result = ExpectMsg<AppendResult>(Wait);
        Assert.Equal(ResultCode.Ok, result.Code);
        Assert.Equal(200, result.Items.Length);
        watcher.ExpectTerminated(entity, Wait);
        // The hand-off ends with the shard stopping and the region telling the coordinator so. With one region the shard
        // comes back to that same region, and that report must reach the coordinator before the region asks where the
        // shard lives now: arriving after the new allocation it would make the coordinator drop it again. So wait until
        // the region no longer lists the shard (it reports when it drops it), and only then send the next message.
        watcher.Watch(shardActor);
        watcher.ExpectTerminated(shardActor, Wait);
        AwaitAssert(() =>
        {
            var probe = CreateTestProbe();
            region.Tell(GetShardRegionState.Instance, probe.Ref);
            var state = probe.ExpectMsg<CurrentShardRegionState>(Wait);
            Assert.DoesNotContain(shard, state.Shards.Select(s => s.ShardId).Concat(state.Failed));
        }, Wait);
        Assert.Equal(200, Count(region, id)); // the next incarnation has every acknowledged event
        // …and it is a new incarnation, in the shard allocated anew after the hand-off.
        Assert.NotEqual(entity, Resolve($"{shardPath}/{id.Hex}"));
        Assert.True(strategy.Allocations(shard) > allocated, "the shard was not allocated again after the hand-off");
    }
}
