using Akka.Actor;
using Akka.Cluster.Hosting;
using Akka.Cluster.Sharding;
using Akka.Hosting;
using Akka.Sync.Protocol;

namespace Akka.Sync.Actors.Conversations;

/// <summary>Registry key of the conversation shard region.</summary>
public sealed class ConversationRegion;

/// <summary>Routes every <see cref="IWithConversationId"/> message to its conversation entity.</summary>
public sealed class ConversationMessageExtractor(int maxShards) : HashCodeMessageExtractor(maxShards)
{
    public override string? EntityId(object message) => (message as IWithConversationId)?.ConversationId.Hex;
}

public static class ConversationHosting
{
    /// <summary>The cluster role that hosts conversations (every gateway node has it by default).</summary>
    public const string Role = "conversation";

    /// <summary>Shards conversations are spread over (ten per node for a ten-node cluster).</summary>
    public const int MaxShards = 100;

    /// <summary>
    /// What a shard sends its entities when it hands them off (rebalance, a node leaving): the entity stops only after
    /// every write in flight has been answered.
    /// </summary>
    internal static readonly object HandOffStopMessage = ConversationActor.StopGracefully.Instance;

    private static readonly ConversationMessageExtractor Extractor = new(MaxShards);

    /// <summary>The shard a conversation lives in.</summary>
    public static string ShardOf(ConversationId id) => Extractor.ShardId(id.Hex, null);

    /// <summary>
    /// The conversation shard region. Supervision: each entity is a child of its shard, which restarts it when it
    /// throws (the default strategy), and a restarted entity recovers from its snapshot and journal, so nothing
    /// acknowledged is lost. A journal write failure stops the entity instead (Akka.Persistence; the entity first
    /// answers every caller still waiting with unavailable), and the next message for it starts a fresh incarnation
    /// that recovers the same way; so does a hand-off to another node.
    /// </summary>
    public static AkkaConfigurationBuilder AddConversationSharding(this AkkaConfigurationBuilder builder,
        ConversationSettings settings, int maxShards = MaxShards, Following.UpstreamServices? upstream = null) =>
        builder.WithShardRegion<ConversationRegion>("conversation",
            // Props from the type and its arguments, not from an expression: Props.Create(() => new …) compiles each
            // argument's expression for every entity started (~a quarter of the CPU while 2,000 conversations were
            // created, bench/NOTES.md).
            (_, registry, _) => entityId => Props.Create(typeof(ConversationActor),
                ConversationId.Parse(entityId), settings, registry.Get<ConversationDirectoryKey>(), upstream),
            new ConversationMessageExtractor(maxShards),
            new ShardOptions
            {
                Role = Role,
                RememberEntities = false,
                StateStoreMode = StateStoreMode.DData,
                // Entities passivate themselves when they have no subscribers (ConversationActor.OnIdle).
                PassivateIdleEntityAfter = TimeSpan.Zero,
                HandOffStopMessage = HandOffStopMessage,
            });
}
