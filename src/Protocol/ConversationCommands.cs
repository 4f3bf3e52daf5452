namespace Akka.Sync.Protocol;

/// <summary>A user message: its normalised V1 content array (JSON) and whether it starts a run.</summary>
public sealed record UserMessage(byte[] ContentJson, bool Run);

/// <summary>
/// An event offered by a producer (agent ingest). <see cref="Body"/> is a JSON object holding every
/// field but the base ones (<c>kind id timestamp source</c>), already validated.
/// </summary>
public sealed record IncomingEvent(string Kind, string Source, string? Id, byte[] Body);

/// <summary>
/// A command that writes. It carries the moment its caller stops waiting (<see cref="DeadlineTicks"/>, UTC ticks; 0:
/// none): a conversation that gets it later — buffered while its shard moved, stashed while it recovered — drops it
/// unapplied, so a caller's timeout (503) means "not stored, now or later" (CONTRACT §7).
/// </summary>
public interface IWriteCommand
{
    long DeadlineTicks { get; }

    IWriteCommand WithDeadline(long ticks);

    bool IsExpired(DateTime nowUtc) => DeadlineTicks != 0 && nowUtc.Ticks > DeadlineTicks;

    /// <summary>
    /// The deadline for a caller that waits <paramref name="wait"/> from <paramref name="nowUtc"/>: half of it. A write
    /// decided before then has the other half to become durable and be answered; the journal's call-timeout is kept
    /// within that half (akka.hocon), so a write either answers in time or fails and is answered as not stored.
    /// </summary>
    static long DeadlineFor(DateTime nowUtc, TimeSpan wait) => nowUtc.Ticks + wait.Ticks / 2;
}

/// <summary>Commands change a conversation; each is answered after what it appended is durable.</summary>
public static class ConversationCommands
{
    public sealed record Create(
        ConversationId ConversationId,
        Dialect Dialect,
        string? Title,
        UserMessage? InitialMessage,
        byte[] KeyHash,
        UpstreamBinding? Upstream = null) : ISyncMessage, IWithConversationId, IWriteCommand
    {
        public long DeadlineTicks { get; init; }
        public IWriteCommand WithDeadline(long ticks) => this with { DeadlineTicks = ticks };
    }

    public sealed record SendMessage(ConversationId ConversationId, UserMessage Message)
        : ISyncMessage, IWithConversationId, IWriteCommand
    {
        public long DeadlineTicks { get; init; }
        public IWriteCommand WithDeadline(long ticks) => this with { DeadlineTicks = ticks };
    }

    public sealed record Run(ConversationId ConversationId) : ISyncMessage, IWithConversationId, IWriteCommand
    {
        public long DeadlineTicks { get; init; }
        public IWriteCommand WithDeadline(long ticks) => this with { DeadlineTicks = ticks };
    }

    /// <summary>
    /// <c>pause</c>, or <c>interrupt</c> (the Agent Canvas' Stop button): the same status change; an interrupt marks
    /// itself with an <c>InterruptEvent</c> instead of a <c>PauseEvent</c>, as agent-server does.
    /// </summary>
    public sealed record Pause(ConversationId ConversationId, bool Interrupt = false) : ISyncMessage, IWithConversationId, IWriteCommand
    {
        public long DeadlineTicks { get; init; }
        public IWriteCommand WithDeadline(long ticks) => this with { DeadlineTicks = ticks };
    }

    public sealed record RespondToConfirmation(ConversationId ConversationId, bool Accept, string Reason)
        : ISyncMessage, IWithConversationId, IWriteCommand
    {
        public long DeadlineTicks { get; init; }
        public IWriteCommand WithDeadline(long ticks) => this with { DeadlineTicks = ticks };
    }

    /// <summary>An agent runtime's batch: stored all together or not at all.</summary>
    public sealed record AppendEvents(ConversationId ConversationId, IncomingEvent[] Events)
        : ISyncMessage, IWithConversationId, IWriteCommand
    {
        public long DeadlineTicks { get; init; }
        public IWriteCommand WithDeadline(long ticks) => this with { DeadlineTicks = ticks };
    }

    public sealed record SetTitle(ConversationId ConversationId, string Title) : ISyncMessage, IWithConversationId, IWriteCommand
    {
        public long DeadlineTicks { get; init; }
        public IWriteCommand WithDeadline(long ticks) => this with { DeadlineTicks = ticks };
    }

    /// <summary>A V0 socket's <c>oh_user_action</c> (source user); <c>change_agent_state</c> goes through the state machine.</summary>
    public sealed record SubmitUserAction(ConversationId ConversationId, Akka.Sync.Protocol.V0.V0Incoming Action)
        : ISyncMessage, IWithConversationId, IWriteCommand
    {
        public long DeadlineTicks { get; init; }
        public IWriteCommand WithDeadline(long ticks) => this with { DeadlineTicks = ticks };
    }

    /// <summary>An agent runtime's V0 batch: stored all together or not at all; ids are the server's.</summary>
    public sealed record AppendV0Events(ConversationId ConversationId, Akka.Sync.Protocol.V0.V0Incoming[] Events)
        : ISyncMessage, IWithConversationId, IWriteCommand
    {
        public long DeadlineTicks { get; init; }
        public IWriteCommand WithDeadline(long ticks) => this with { DeadlineTicks = ticks };
    }

    public sealed record Delete(ConversationId ConversationId) : ISyncMessage, IWithConversationId, IWriteCommand
    {
        public long DeadlineTicks { get; init; }
        public IWriteCommand WithDeadline(long ticks) => this with { DeadlineTicks = ticks };
    }
}

/// <summary>Queries read a conversation; they change nothing.</summary>
public static class ConversationQueries
{
    public sealed record GetInfo(ConversationId ConversationId) : ISyncMessage, IWithConversationId;

    /// <summary>Filters of events/search and events/count; null means "any".</summary>
    public sealed record EventFilter(string? Kind, string? Source, long? TimestampGteTicks, long? TimestampLtTicks)
    {
        public static readonly EventFilter None = new(null, null, null, null);
    }

    public sealed record SearchEvents(
        ConversationId ConversationId,
        EventFilter Filter,
        string? PageId,
        int Limit,
        bool Descending) : ISyncMessage, IWithConversationId;

    public sealed record CountEvents(ConversationId ConversationId, EventFilter Filter)
        : ISyncMessage, IWithConversationId;

    public sealed record GetEvent(ConversationId ConversationId, string EventId) : ISyncMessage, IWithConversationId;

    /// <summary>Does this per-conversation key (its SHA-256) open this conversation?</summary>
    public sealed record Authorize(ConversationId ConversationId, byte[] KeyHash) : ISyncMessage, IWithConversationId;
}

/// <summary>How a command or query ended, mapped by the Gateway to an HTTP status.</summary>
public enum ResultCode
{
    Ok = 0,
    Created = 1,
    BadRequest = 2,
    NotFound = 3,
    Conflict = 4,
    Unavailable = 5,
    /// <summary>An upstream agent server failed or refused a forwarded action (502).</summary>
    BadGateway = 6,
    /// <summary>An upstream agent server did not answer a forwarded action in time: it may or may not be applied (504).</summary>
    GatewayTimeout = 7,
}

public sealed record ConversationInfo(
    ConversationId ConversationId,
    Dialect Dialect,
    string? Title,
    ExecutionStatus Status,
    long CreatedTicks,
    long UpdatedTicks,
    long EventCount,
    Akka.Sync.Protocol.V0.AgentState? AgentState = null,
    UpstreamView? Upstream = null) : ISyncMessage;

public static class ConversationReplies
{
    public sealed record CommandResult(ResultCode Code, string? Detail = null) : ISyncMessage
    {
        public static readonly CommandResult Ok = new(ResultCode.Ok);
        public static readonly CommandResult NotFound = new(ResultCode.NotFound, "Conversation not found");
    }

    /// <summary>Reply to <see cref="ConversationCommands.Create"/>; <c>Created</c> code for a new one.</summary>
    public sealed record CreateResult(ResultCode Code, string? Detail, ConversationInfo? Info) : ISyncMessage;

    public sealed record AppendedItem(string Id, long Seq);

    public sealed record AppendResult(ResultCode Code, string? Detail, AppendedItem[] Items) : ISyncMessage;

    public sealed record InfoResult(ResultCode Code, ConversationInfo? Info) : ISyncMessage;

    public sealed record EventPage(ResultCode Code, byte[][] Items, string? NextPageId) : ISyncMessage;

    public sealed record EventCount(ResultCode Code, long Count) : ISyncMessage;

    public sealed record EventResult(ResultCode Code, byte[]? Json) : ISyncMessage;

    public sealed record AuthorizeResult(bool Exists, bool Allowed) : ISyncMessage;
}
