using System.Collections.Immutable;
using System.Security.Cryptography;
using Akka.Sync.Protocol;
using Akka.Sync.Protocol.StateMachines;
using Akka.Sync.Protocol.V1;
using static Akka.Sync.Protocol.ConversationCommands;

namespace Akka.Sync.Actors.Conversations;

/// <summary>An event the rules want appended, before the actor stamps it with seq, id and timestamp.</summary>
public sealed record Draft(string Kind, string Source, string? Id, byte[] Body);

/// <summary>What the rules decided for a command: events to append, or a refusal with its result code.</summary>
public abstract record Decision
{
    public sealed record Append(IReadOnlyList<Draft> Drafts) : Decision;
    public sealed record Refuse(ResultCode Code, string Detail) : Decision;

    public static readonly Append Nothing = new([]);
}

/// <summary>
/// A conversation's state, derived only from what it persisted. Immutable: <see cref="Apply(object)"/>
/// returns a new state, <c>Decide*</c> never changes anything, so the rules are tested without actors.
/// </summary>
public sealed record ConversationState(
    ConversationId Id,
    bool Exists,
    bool Deleted,
    Dialect Dialect,
    string? Title,
    long CreatedTicks,
    long UpdatedTicks,
    ExecutionStatus Status,
    long LastSeq,
    long LastTimestampTicks,
    ImmutableArray<byte[]> KeyHashes,
    ImmutableList<PendingAction> Pending)
{
    /// <summary>Pending actions kept for rejection; a runaway agent must not grow this forever.</summary>
    public const int MaxPending = 1000;

    public static ConversationState Empty(ConversationId id) =>
        new(id, false, false, Dialect.V1, null, 0, 0, ExecutionStatus.Idle, 0, 0, [], []);

    public ConversationInfo Info => new(Id, Dialect, Title, Status, CreatedTicks, UpdatedTicks, LastSeq);

    public bool IsLive => Exists && !Deleted;

    // ---- apply ----

    public ConversationState Apply(object evt) => evt switch
    {
        EventEnvelope e => ApplyLogged(e),
        ConversationEvents.Created c => this with
        {
            Exists = true, Dialect = c.Dialect, Title = c.Title, CreatedTicks = c.CreatedTicks,
            UpdatedTicks = c.CreatedTicks, KeyHashes = KeyHashes.Add(c.KeyHash),
        },
        ConversationEvents.TitleChanged t => this with { Title = t.Title, UpdatedTicks = Math.Max(UpdatedTicks, t.AtTicks) },
        ConversationEvents.KeyIssued k => this with { KeyHashes = KeyHashes.Add(k.KeyHash) },
        ConversationEvents.Deleted d => this with { Deleted = true, UpdatedTicks = Math.Max(UpdatedTicks, d.AtTicks) },
        _ => this,
    };

    private ConversationState ApplyLogged(EventEnvelope e)
    {
        var effect = V1Interpretation.Of(e.Kind, e.Id, e.Json);
        var pending = Pending;
        if (effect.OpensAction is { } opened)
        {
            pending = pending.Add(opened);
            if (pending.Count > MaxPending) pending = pending.RemoveAt(0);
        }
        if (effect.ClosesActionId is not null || effect.ClosesToolCallId is not null)
        {
            pending = pending.RemoveAll(p =>
                (effect.ClosesActionId is not null && p.ActionId == effect.ClosesActionId)
                || (effect.ClosesToolCallId is not null && p.ToolCallId == effect.ClosesToolCallId));
        }
        return this with
        {
            LastSeq = e.Seq,
            LastTimestampTicks = e.TimestampTicks,
            UpdatedTicks = Math.Max(UpdatedTicks, e.TimestampTicks),
            Status = effect.Status ?? Status,
            Pending = pending,
        };
    }

    // ---- decide ----

    public Decision DecideMessage(UserMessage message)
    {
        if (!IsLive) return new Decision.Refuse(ResultCode.NotFound, "Conversation not found");
        var drafts = new List<Draft>(3)
        {
            new("MessageEvent", EventSources.User, null, V1Json.MessageBody("user", message.ContentJson)),
        };
        drafts.AddRange(StatusDrafts(ExecutionStatusMachine.OnMessage(Status, message.Run).Changes));
        return new Decision.Append(drafts);
    }

    public Decision DecideRun()
    {
        if (!IsLive) return new Decision.Refuse(ResultCode.NotFound, "Conversation not found");
        return ExecutionStatusMachine.OnRun(Status) switch
        {
            StatusDecision.Accepted a => new Decision.Append(StatusDrafts(a.Changes).ToList()),
            StatusDecision.Rejected r => new Decision.Refuse(ResultCode.Conflict, r.Reason),
            _ => throw new InvalidOperationException(),
        };
    }

    public Decision DecidePause()
    {
        if (!IsLive) return new Decision.Refuse(ResultCode.NotFound, "Conversation not found");
        var a = ExecutionStatusMachine.OnPause(Status);
        var drafts = StatusDrafts(a.Changes).ToList();
        if (a.AppendPauseEvent) drafts.Add(new Draft("PauseEvent", EventSources.User, null, V1Json.EmptyBody));
        return new Decision.Append(drafts);
    }

    public Decision DecideConfirmation(bool accept, string reason)
    {
        if (!IsLive) return new Decision.Refuse(ResultCode.NotFound, "Conversation not found");
        switch (ExecutionStatusMachine.OnConfirmation(Status, accept))
        {
            case StatusDecision.Rejected r:
                return new Decision.Refuse(ResultCode.Conflict, r.Reason);
            case StatusDecision.Accepted a:
                var drafts = new List<Draft>();
                if (a.RejectPendingActions)
                {
                    var why = string.IsNullOrEmpty(reason) ? "User rejected the action" : reason;
                    drafts.AddRange(Pending.Select(p => new Draft("UserRejectObservation", EventSources.Environment, null,
                        V1Json.UserRejectBody(p.ToolName, p.ToolCallId, why, p.ActionId))));
                }
                drafts.AddRange(StatusDrafts(a.Changes));
                return new Decision.Append(drafts);
            default:
                throw new InvalidOperationException();
        }
    }

    /// <summary>
    /// An agent batch: events whose id is already in the log are acknowledged, not stored again
    /// (<paramref name="existingSeq"/> resolves ids already stored).
    /// </summary>
    public Decision DecideAppend(IncomingEvent[] events, Func<string, long?> existingSeq)
    {
        if (!IsLive) return new Decision.Refuse(ResultCode.NotFound, "Conversation not found");
        var drafts = new List<Draft>(events.Length);
        foreach (var e in events)
        {
            if (e.Id is not null && existingSeq(e.Id) is not null) continue;
            drafts.Add(new Draft(e.Kind, e.Source, e.Id, e.Body));
        }
        return new Decision.Append(drafts);
    }

    private static IEnumerable<Draft> StatusDrafts(IEnumerable<ExecutionStatus> changes) =>
        changes.Select(s => new Draft("ConversationStateUpdateEvent", EventSources.Environment, null,
            V1Json.StateUpdateBody("execution_status", s.ToWire())));

    /// <summary>
    /// Gives drafts their seq, id and timestamp. Timestamps never go backwards within a conversation,
    /// so timestamp order and seq order agree.
    /// </summary>
    public EventEnvelope[] Stamp(IReadOnlyList<Draft> drafts, DateTime nowUtc)
    {
        var result = new EventEnvelope[drafts.Count];
        var ticks = Math.Max(WireTime.TruncateToMicros(nowUtc).Ticks, LastTimestampTicks);
        var wireTime = WireTime.ToWire(ticks);
        for (var i = 0; i < drafts.Count; i++)
        {
            var d = drafts[i];
            var id = d.Id ?? Guid.NewGuid().ToString("D");
            result[i] = new EventEnvelope(Id, LastSeq + 1 + i, id, d.Kind, d.Source, ticks,
                V1Json.Compose(d.Kind, id, wireTime, d.Source, d.Body));
        }
        return result;
    }

    /// <summary>Constant-time check of a per-conversation key's hash against every key issued.</summary>
    public bool Opens(byte[] keyHash)
    {
        var ok = false;
        foreach (var h in KeyHashes)
            ok |= CryptographicOperations.FixedTimeEquals(h, keyHash);
        return ok && IsLive;
    }

    /// <summary>The SHA-256 of a key; keys are only ever stored and compared as this.</summary>
    public static byte[] HashKey(string key) => SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(key));
}
