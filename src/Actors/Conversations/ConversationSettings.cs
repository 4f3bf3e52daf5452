namespace Akka.Sync.Actors.Conversations;

/// <param name="ReplayChunkBytes">
/// A replay chunk's JSON past its first event; far under the remoting frame (32 MiB in akka.hocon), so a chunk always
/// crosses nodes. The first event of a chunk is sent whatever its size (an event may be up to Limits:MaxBodyBytes).
/// </param>
public sealed record ConversationSettings(
    int TailSize = 2000,
    int SnapshotEvery = 1000,
    int ReplayChunk = 500,
    bool DemoAgent = true,
    TimeSpan DemoStepDelay = default,
    TimeSpan IdleTimeout = default,
    TimeSpan AbsentIdleTimeout = default,
    int MaxSubscribers = 1000,
    long ReplayChunkBytes = 4 * 1024 * 1024)
{
    public static ConversationSettings Default { get; } = new(
        DemoStepDelay: TimeSpan.FromMilliseconds(300),
        IdleTimeout: TimeSpan.FromMinutes(2),
        AbsentIdleTimeout: TimeSpan.FromSeconds(10));
}
