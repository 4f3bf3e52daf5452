namespace Akka.Sync.Protocol;

/// <summary>
/// The cluster-wide list of conversations behind <c>/api/conversations/search</c> and <c>/count</c>.
/// Conversation entities keep it up to date; it holds summaries, never events.
/// </summary>
public static class DirectoryCommands
{
    public sealed record Upsert(ConversationInfo Info, bool Deleted) : ISyncMessage;
}

public enum ConversationSort
{
    CreatedAt = 0,
    CreatedAtDesc = 1,
    UpdatedAt = 2,
    UpdatedAtDesc = 3,
}

public static class DirectoryQueries
{
    public sealed record Search(ExecutionStatus? Status, string? PageId, int Limit, ConversationSort Sort) : ISyncMessage;

    public sealed record Count(ExecutionStatus? Status) : ISyncMessage;

    public sealed record Page(ResultCode Code, ConversationInfo[] Items, string? NextPageId) : ISyncMessage;

    public sealed record CountResult(long Count) : ISyncMessage;

    /// <summary>The conversations that follow an upstream agent server (the keeper wakes them).</summary>
    public sealed record Followed : ISyncMessage;

    public sealed record FollowedResult(ConversationId[] Ids) : ISyncMessage;
}
