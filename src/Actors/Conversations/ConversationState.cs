using System.Collections.Immutable;
using System.Security.Cryptography;
using Akka.Sync.Actors.Agents;
using Akka.Sync.Protocol;
using Akka.Sync.Protocol.StateMachines;
using Akka.Sync.Protocol.V0;
using Akka.Sync.Protocol.V1;
using static Akka.Sync.Protocol.ConversationCommands;
using static Akka.Sync.Protocol.ConversationReplies;

namespace Akka.Sync.Actors.Conversations;

/// <summary>
/// An event the rules want appended, before the actor stamps it with seq, id and timestamp. A V1 draft is its
/// base fields and body; a V0 draft carries its validated <see cref="V0Incoming"/> (its id will be the seq). A draft
/// followed from an upstream agent server asks for its upstream time (<see cref="AtTicks"/>).
/// </summary>
public sealed record Draft(string Kind, string Source, string? Id, byte[] Body, V0Incoming? V0 = null, long? AtTicks = null)
{
    public static Draft FromV0(V0Incoming e) => new(e.Kind, e.Source, null, e.Body, e);
}

/// <summary>What the rules decided for a command: events to append, or a refusal with its result code.</summary>
public abstract record Decision
{
    /// <summary>
    /// Drafts to stamp and append. For an agent batch, <see cref="Items"/> says what each input item became, in input
    /// order; without it each stamped event answers for itself.
    /// </summary>
    public sealed record Append(IReadOnlyList<Draft> Drafts, IReadOnlyList<BatchItem>? Items = null) : Decision
    {
        /// <summary>The id and seq each input item is answered with, once <see cref="Drafts"/> are stamped.</summary>
        public AppendedItem[] Answers(IReadOnlyList<EventEnvelope> stamped)
        {
            if (Items is null) return stamped.Select(e => new AppendedItem(e.Id, e.Seq)).ToArray();
            return Items.Select(i => i.KnownSeq is { } seq
                ? new AppendedItem(i.Id!, seq)
                : new AppendedItem(stamped[i.Draft].Id, stamped[i.Draft].Seq)).ToArray();
        }
    }

    /// <summary>
    /// Events to persist as they are: the conversation's own (created, title, key, deleted), with any log entries they
    /// bring already stamped. <see cref="Code"/> is the success answer's code (Created for a new conversation).
    /// </summary>
    public sealed record Store(IReadOnlyList<object> Events, ResultCode Code = ResultCode.Ok) : Decision;

    public sealed record Refuse(ResultCode Code, string Detail) : Decision;

    public static readonly Append Nothing = new([]);

    public static readonly Refuse NotFound = new(ResultCode.NotFound, "Conversation not found");
}

/// <summary>
/// What one item of an agent batch became: an event already stored or in flight, at <see cref="KnownSeq"/>, or draft
/// number <see cref="Draft"/> of the decision. An id repeated within the batch points at the draft its first
/// occurrence became, so both are answered with the same seq.
/// </summary>
public readonly record struct BatchItem(string? Id, long? KnownSeq, int Draft)
{
    public static BatchItem Known(string id, long seq) => new(id, seq, -1);

    public static BatchItem Drafted(string? id, int draft) => new(id, null, draft);
}

/// <summary>
/// A conversation's state, derived only from what it persisted. Immutable: <see cref="Apply(object)"/>
/// returns a new state, <c>Decide*</c> never changes anything, so the rules are tested without actors.
/// </summary>
public sealed partial record ConversationState(
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
    ImmutableList<PendingAction> Pending,
    AgentState AgentState = AgentState.Loading,
    UpstreamBinding? Upstream = null)
{
    /// <summary>Pending actions kept for rejection; a runaway agent must not grow this forever.</summary>
    public const int MaxPending = 1000;

    public static ConversationState Empty(ConversationId id) =>
        new(id, false, false, Dialect.V1, null, 0, 0, ExecutionStatus.Idle, 0, 0, [], []);

    public ConversationInfo Info => new(Id, Dialect, Title, Status, CreatedTicks, UpdatedTicks, LastSeq,
        Dialect == Dialect.V0 ? AgentState : null, Upstream is { } u ? new UpstreamView(u.Url, u.ConversationId) : null);

    public bool IsLive => Exists && !Deleted;

    /// <summary>Whether an agent run is under way (V1 execution status or V0 agent state).</summary>
    public bool IsRunning => Dialect == Dialect.V0 ? AgentState == AgentState.Running : Status == ExecutionStatus.Running;

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
        ConversationEvents.UpstreamBound b => this with { Upstream = b.Binding },
        _ => this,
    };

    /// <summary>
    /// <see cref="Apply(object)"/> over each event in order, with one new state per run of log entries instead of one
    /// per entry (a write of N events copied the state N times, twice: when decided and when durable; bench/NOTES.md,
    /// "Issue 15, thirteenth sitting"). <paramref name="startedRunning"/> tells whether an agent run began on any
    /// event of them (the state went from not running to running), as applying them one by one would have shown.
    /// </summary>
    public ConversationState ApplyAll<T>(IReadOnlyList<T> events, out bool startedRunning) where T : class
    {
        startedRunning = false;
        var state = this;
        var i = 0;
        while (i < events.Count)
        {
            if (events[i] is EventEnvelope)
            {
                state = state.ApplyLogRun(events, ref i, ref startedRunning);
                continue;
            }
            var wasRunning = state.IsRunning;
            state = state.Apply(events[i]);
            startedRunning |= !wasRunning && state.IsRunning;
            i++;
        }
        return state;
    }

    private ConversationState ApplyLogged(EventEnvelope e)
    {
        var i = 0;
        var started = false;
        return ApplyLogRun<EventEnvelope>([e], ref i, ref started);
    }

    /// <summary>Folds the log entries from <paramref name="i"/> on (up to the first other event) into one new state.</summary>
    private ConversationState ApplyLogRun<T>(IReadOnlyList<T> events, ref int i, ref bool startedRunning) where T : class
    {
        long lastSeq = LastSeq, lastTimestamp = LastTimestampTicks, updated = UpdatedTicks;
        var status = Status;
        var agentState = AgentState;
        var pending = Pending;
        var running = IsRunning;
        for (; i < events.Count && events[i] is EventEnvelope e; i++)
        {
            lastSeq = e.Seq;
            lastTimestamp = e.TimestampTicks;
            updated = Math.Max(updated, e.TimestampTicks);
            if (Dialect == Dialect.V0)
            {
                agentState = V0Json.AgentStateOf(e.Kind, e.Json) ?? agentState;
            }
            else
            {
                var effect = V1Interpretation.Of(e.Kind, e.Id, e.Json);
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
                status = effect.Status ?? status;
            }
            var nowRunning = Dialect == Dialect.V0 ? agentState == AgentState.Running : status == ExecutionStatus.Running;
            startedRunning |= !running && nowRunning;
            running = nowRunning;
        }
        return this with
        {
            LastSeq = lastSeq,
            LastTimestampTicks = lastTimestamp,
            UpdatedTicks = updated,
            Status = status,
            AgentState = agentState,
            Pending = pending,
        };
    }

    // ---- decide (the conversation itself) ----

    /// <summary>
    /// A create. Refused once deleted; a repeat stores only the caller's new key (the existing conversation, answered
    /// Ok); a new conversation stores Created, a V0 conversation's start and the initial message, stamped in that
    /// order (answered Created).
    /// </summary>
    public Decision DecideCreate(Create c, DateTime nowUtc)
    {
        if (Deleted) return new Decision.Refuse(ResultCode.Conflict, "Conversation was deleted");
        // A repeated create returns the existing conversation with a fresh key of its own.
        if (Exists) return DecideRepeatedCreate(c);
        var created = new ConversationEvents.Created(Id, c.Dialect, c.Title, nowUtc.Ticks, c.KeyHash);
        var events = new List<object> { created };
        if (c.Upstream is { } upstream) events.Add(new ConversationEvents.UpstreamBound(upstream));
        var state = Apply(created);
        if (c.Dialect == Dialect.V0)
        {
            var start = state.Stamp(V0Start(), nowUtc);
            events.AddRange(start);
            state = start.Aggregate(state, (st, e) => st.Apply(e));
            if (c.InitialMessage is { } m
                && state.DecideUserAction(V0Json.UserMessage(DemoAgentActor.UserText(m.ContentJson, isContentArray: true))) is Decision.Append v0)
                events.AddRange(state.Stamp(v0.Drafts, nowUtc));
        }
        else if (c.InitialMessage is { } message && state.DecideMessage(message) is Decision.Append a)
        {
            events.AddRange(state.Stamp(a.Drafts, nowUtc));
        }
        return new Decision.Store(events, ResultCode.Created);
    }

    public Decision DecideTitle(string title, DateTime nowUtc) =>
        IsLive ? new Decision.Store([new ConversationEvents.TitleChanged(title, nowUtc.Ticks)]) : Decision.NotFound;

    public Decision DecideDelete(DateTime nowUtc) =>
        IsLive ? new Decision.Store([new ConversationEvents.Deleted(nowUtc.Ticks)]) : Decision.NotFound;

    /// <summary>A demo agent's step lands only while its run is under way (the run's own id is checked by <see cref="AgentRuns"/>).</summary>
    public Decision DecideAgentStep(IReadOnlyList<Draft> drafts) =>
        IsRunning && IsLive ? new Decision.Append(drafts) : new Decision.Refuse(ResultCode.Conflict, "no run is under way");

    // ---- decide ----

    public Decision DecideMessage(UserMessage message)
    {
        if (Refusal(Dialect.V1) is { } refusal) return refusal;
        var drafts = new List<Draft>(3)
        {
            new("MessageEvent", EventSources.User, null, V1Json.MessageBody("user", message.ContentJson)),
        };
        drafts.AddRange(StatusDrafts(ExecutionStatusMachine.OnMessage(Status, message.Run).Changes));
        return new Decision.Append(drafts);
    }

    public Decision DecideRun()
    {
        if (Refusal(Dialect.V1) is { } refusal) return refusal;
        return ExecutionStatusMachine.OnRun(Status) switch
        {
            StatusDecision.Accepted a => new Decision.Append(StatusDrafts(a.Changes).ToList()),
            StatusDecision.Rejected r => new Decision.Refuse(ResultCode.Conflict, r.Reason),
            _ => throw new InvalidOperationException(),
        };
    }

    public Decision DecidePause(bool interrupt = false)
    {
        if (Refusal(Dialect.V1) is { } refusal) return refusal;
        var a = ExecutionStatusMachine.OnPause(Status);
        var drafts = StatusDrafts(a.Changes).ToList();
        if (a.AppendPauseEvent)
            drafts.Add(new Draft(interrupt ? "InterruptEvent" : "PauseEvent", EventSources.User, null, V1Json.EmptyBody));
        return new Decision.Append(drafts);
    }

    public Decision DecideConfirmation(bool accept, string reason)
    {
        if (Refusal(Dialect.V1) is { } refusal) return refusal;
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
    /// An agent batch: events whose id is already in the log (or in flight), or earlier in the same batch, are
    /// acknowledged with that event's seq, not stored again (<paramref name="existingSeq"/> resolves ids already
    /// stored or being written). The decision's <see cref="Decision.Append.Items"/> answer each input item.
    /// </summary>
    public Decision DecideAppend(IncomingEvent[] events, Func<string, long?> existingSeq)
    {
        if (Refusal(Dialect.V1) is { } refusal) return refusal;
        if (Upstream is not null) return FollowsUpstream;
        var drafts = new List<Draft>(events.Length);
        var items = new BatchItem[events.Length];
        // Ids drafted earlier in this batch: looked up among the drafts while they are few, in a table past that (a
        // table for every batch was ~2.5 % of the bytes allocated per request under many conversations).
        Dictionary<string, int>? draftOf = null;
        for (var i = 0; i < events.Length; i++)
        {
            var e = events[i];
            if (e.Id is not null && existingSeq(e.Id) is { } seq)
                items[i] = BatchItem.Known(e.Id, seq);
            else if (e.Id is not null && DraftedEarlier(e.Id, drafts, draftOf) is var first && first >= 0)
                items[i] = BatchItem.Drafted(e.Id, first);
            else
            {
                if (draftOf is not null && e.Id is not null) draftOf[e.Id] = drafts.Count;
                items[i] = BatchItem.Drafted(e.Id, drafts.Count);
                drafts.Add(new Draft(e.Kind, e.Source, e.Id, e.Body));
                if (draftOf is null && drafts.Count == ScanDraftsUpTo && events.Length > ScanDraftsUpTo)
                {
                    draftOf = new Dictionary<string, int>(events.Length, StringComparer.Ordinal);
                    for (var d = 0; d < drafts.Count; d++)
                        if (drafts[d].Id is { } id) draftOf.TryAdd(id, d);
                }
            }
        }
        return new Decision.Append(drafts, items);
    }

    /// <summary>Drafts of a batch searched one by one for a repeated id, below this many.</summary>
    private const int ScanDraftsUpTo = 16;

    /// <summary>The first draft of this batch with <paramref name="id"/>, or -1.</summary>
    private static int DraftedEarlier(string id, List<Draft> drafts, Dictionary<string, int>? draftOf)
    {
        if (draftOf is not null) return draftOf.TryGetValue(id, out var first) ? first : -1;
        for (var d = 0; d < drafts.Count; d++)
            if (string.Equals(drafts[d].Id, id, StringComparison.Ordinal)) return d;
        return -1;
    }

    /// <summary>Not found, or a command of the other dialect (400 naming the conversation's own).</summary>
    private Decision.Refuse? Refusal(Dialect expected) =>
        !IsLive ? Decision.NotFound
        : Dialect != expected ? new Decision.Refuse(ResultCode.BadRequest,
            $"wrong protocol: conversation is {Dialect.ToWire()}" + (Dialect == Dialect.V0
                ? " (use the Socket.IO endpoint, and V0 events with action or observation for ingest)"
                : " (ingest V1 events with kind and source)"))
        : null;

    // ---- decide (V0) ----

    /// <summary>
    /// A V0 socket's <c>oh_user_action</c>: <c>change_agent_state</c> goes through the agent-state machine (a refusal
    /// is a 400 detail for the error frame); a <c>message</c> starts the agent from the states that allow it.
    /// </summary>
    public Decision DecideUserAction(V0Incoming action)
    {
        if (Refusal(Dialect.V0) is { } refusal) return refusal;
        if (action.IsAction && action.Type == "change_agent_state")
        {
            var requested = V0Json.RequestedAgentState(action)!.Value;
            return AgentStateMachine.OnRequest(AgentState, requested, StateRequester.Client) switch
            {
                AgentStateDecision.Refused r => new Decision.Refuse(ResultCode.BadRequest, r.Reason),
                AgentStateDecision.Change c => new Decision.Append([Draft.FromV0(action), Draft.FromV0(V0Json.AgentStateChanged(c.To))]),
                _ => Decision.Nothing,
            };
        }
        var drafts = new List<Draft> { Draft.FromV0(action) };
        if (action.IsAction && action.Type == "message" && AgentStateMachine.OnUserMessage(AgentState) is { } next)
            drafts.Add(Draft.FromV0(V0Json.AgentStateChanged(next)));
        return new Decision.Append(drafts);
    }

    /// <summary>An agent's V0 batch: everything is stored; agents may set any agent state.</summary>
    public Decision DecideV0Append(IEnumerable<V0Incoming> events) =>
        Refusal(Dialect.V0) ?? (Decision)new Decision.Append(events.Select(Draft.FromV0).ToList());

    /// <summary>What a new V0 conversation appends: loading, then ready for the user.</summary>
    public static IReadOnlyList<Draft> V0Start() =>
        [Draft.FromV0(V0Json.AgentStateChanged(AgentStateMachine.Initial)), Draft.FromV0(V0Json.AgentStateChanged(AgentStateMachine.Ready))];

    private static IEnumerable<Draft> StatusDrafts(IEnumerable<ExecutionStatus> changes) =>
        changes.Select(s => new Draft("ConversationStateUpdateEvent", EventSources.Environment, null,
            V1Json.StateUpdateBody("execution_status", s.ToWire())));

    /// <summary>
    /// Gives drafts their seq, id and timestamp. Timestamps never go backwards within a conversation,
    /// so timestamp order and seq order agree.
    /// </summary>
    private const long TicksPerMicrosecond = TimeSpan.TicksPerMillisecond / 1000;

    public EventEnvelope[] Stamp(IReadOnlyList<Draft> drafts, DateTime nowUtc)
    {
        var result = new EventEnvelope[drafts.Count];
        // Each event gets its own microsecond, after the previous event's: timestamps are unique within a
        // conversation, so a client paging by timestamp__lt (Agent Canvas) never skips events sharing one.
        // A followed event keeps its upstream time unless that would break this order (a repeated or earlier time).
        var now = WireTime.TruncateToMicros(nowUtc).Ticks;
        var ticks = LastTimestampTicks; // the previous event's
        for (var i = 0; i < drafts.Count; i++)
        {
            var d = drafts[i];
            ticks = Math.Max(d.AtTicks ?? now, LastSeq == 0 && i == 0 ? 0 : ticks + TicksPerMicrosecond);
            var seq = LastSeq + 1 + i;
            if (d.V0 is { } v0)
            {
                result[i] = new EventEnvelope(Id, seq, seq.ToString(System.Globalization.CultureInfo.InvariantCulture),
                    d.Kind, d.Source, ticks, V0Json.Compose(seq, WireTime.ToWire(ticks), v0));
                continue;
            }
            var id = d.Id ?? RandomIds.NewDashed();
            result[i] = new EventEnvelope(Id, seq, id, d.Kind, d.Source, ticks, V1Json.Compose(d.Kind, id, ticks, d.Source, d.Body));
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
