namespace Akka.Sync.Actors.Conversations;

public sealed record ConversationSettings(
    int TailSize = 2000,
    int SnapshotEvery = 1000,
    int ReplayChunk = 500,
    bool DemoAgent = true,
    TimeSpan DemoStepDelay = default,
    TimeSpan IdleTimeout = default,
    TimeSpan AbsentIdleTimeout = default,
    int MaxSubscribers = 1000)
{
    public static ConversationSettings Default { get; } = new(
        DemoStepDelay: TimeSpan.FromMilliseconds(300),
        IdleTimeout: TimeSpan.FromMinutes(2),
        AbsentIdleTimeout: TimeSpan.FromSeconds(10));
}
