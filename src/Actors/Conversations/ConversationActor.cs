using Akka.Actor;
using Akka.Cluster.Sharding;
using Akka.Event;
using Akka.Persistence;
using Akka.Sync.Actors.Agents;
using Akka.Sync.Actors.Following;
using Akka.Sync.Actors.Observability;
using Akka.Sync.Protocol;
using static Akka.Sync.Protocol.ConversationCommands;
using static Akka.Sync.Protocol.ConversationQueries;
using static Akka.Sync.Protocol.ConversationReplies;
using static Akka.Sync.Protocol.ConversationSubscription;

namespace Akka.Sync.Actors.Conversations;

/// <summary>
/// One conversation: a Cluster Sharding entity that owns its event log and execution status. This actor is the write
/// pipeline — for every command: decide → stamp (seq, id, timestamp) → persist → apply → reply → publish; nothing
/// leaves it before it is durable. The rules are <see cref="ConversationState"/>'s; the reads are
/// <see cref="ConversationLog"/>'s; subscribers, snapshots and the demo agent are <see cref="SubscriberSet"/>,
/// <see cref="SnapshotPolicy"/> and <see cref="AgentRuns"/>; following an upstream agent server is
/// <see cref="UpstreamLink"/>'s. Supervised by its shard (see ConversationHosting).
/// </summary>
public sealed class ConversationActor : UntypedPersistentActor
{
    private static readonly AppendResult AppendAnswer = new(ResultCode.Ok, null, []);

    private readonly ConversationId _id;
    private readonly ConversationSettings _settings;
    private readonly IActorRef _directory;
    private readonly ILoggingAdapter _log = Context.GetLogger();
    private readonly ConversationLog _history;
    private readonly SubscriberSet _subscribers;
    private readonly SnapshotPolicy _snapshots;
    private readonly AgentRuns _agent;
    private readonly UpstreamLink _upstream;
    private readonly Queue<(IActorRef ReplyTo, object OnFailure)> _awaiting = new();
    private ConversationState _state;   // durable: only what the journal holds
    private ConversationState _decided; // durable + in-flight writes: what the next decision builds on
    private readonly LocalConversations _local = LocalConversations.Get(Context.System);
    private LocalConversations.Route? _route; // open while requests on this node may come straight here

    public ConversationActor(ConversationId id, ConversationSettings settings, IActorRef directory)
        : this(id, settings, directory, null)
    {
    }

    public ConversationActor(ConversationId id, ConversationSettings settings, IActorRef directory, UpstreamServices? upstream)
    {
        _id = id;
        _settings = settings;
        _directory = directory;
        _state = _decided = ConversationState.Empty(id);
        _history = new ConversationLog(Context.System, id, PersistenceIdOf(id), settings.TailSize);
        _subscribers = new SubscriberSet(id, settings.MaxSubscribers, Context);
        _snapshots = new SnapshotPolicy(settings.SnapshotEvery);
        _agent = new AgentRuns(settings);
        _upstream = new UpstreamLink(id, upstream, Context);
    }

    // ---- the handlers: one switch each, not Akka's per-instance Receive<T> tables ----
    // A ReceivePersistentActor builds its table of ~45 handlers for every entity started: ~22 KB allocated per
    // conversation created or re-activated, and the table kept for the entity's life (bench/NOTES.md, "Issue 15, ninth
    // sitting"). The connection actor is an UntypedActor for the same reason (issue 12).

    protected override void OnRecover(object message)
    {
        switch (message)
        {
            case SnapshotOffer offer: OnSnapshotOffer(offer); break;
            case EventBatch b: ApplyDurable(b.Events); break;
            case EventEnvelope or ConversationEvents.Created or ConversationEvents.TitleChanged or ConversationEvents.KeyIssued
                or ConversationEvents.Deleted or ConversationEvents.UpstreamBound:
                ApplyDurable(message);
                break;
            case RecoveryCompleted: OnRecovered(); break;
            default: Unhandled(message); break;
        }
    }

    protected override void OnCommand(object message)
    {
        switch (message)
        {
            // Following an upstream agent server (UpstreamLink): users' actions go there, its events come back through the follower.
            case SendMessage or Run or Pause or RespondToConfirmation when UpstreamLink.Forwards(_decided):
                _upstream.Forward(message, Sender);
                break;
            case UpstreamFollower.Ingest c: Execute(_decided.DecideFollowed(c.Events, _history.SeqOfAny), AppendAnswer); break;
            case UpstreamCommands.Wake: break;

            case Create c: Execute(_decided.DecideCreate(c, Now()), new CreateResult(ResultCode.Created, null, null)); break;
            case SendMessage c: Execute(_decided.DecideMessage(c.Message), CommandResult.Ok); break;
            case Run: Execute(_decided.DecideRun(), CommandResult.Ok); break;
            case Pause p: Execute(_decided.DecidePause(p.Interrupt), CommandResult.Ok); break;
            case RespondToConfirmation c: Execute(_decided.DecideConfirmation(c.Accept, c.Reason), CommandResult.Ok); break;
            case AppendEvents c: Execute(_decided.DecideAppend(c.Events, _history.SeqOfAny), AppendAnswer); break;
            case SubmitUserAction c: Execute(_decided.DecideUserAction(c.Action), CommandResult.Ok); break;
            case AppendV0Events c: Execute(_decided.DecideV0Append(c.Events), AppendAnswer); break;
            case DemoAgentActor.Step s: Execute(_agent.Decide(s, _decided), new DemoAgentActor.StepDone(s.RunId)); break;
            case SetTitle c: Execute(_decided.DecideTitle(c.Title, Now()), CommandResult.Ok); break;
            case Delete: Execute(_decided.DecideDelete(Now()), CommandResult.Ok); break;

            case GetInfo: Sender.Tell(_state.IsLive ? new InfoResult(ResultCode.Ok, _upstream.Describe(_state.Info)) : new InfoResult(ResultCode.NotFound, null)); break;
            case SearchEvents q: _history.Search(q, _state.IsLive, Sender); break;
            case CountEvents q: Sender.Tell(_history.Count(q.Filter, _state.IsLive)); break;
            case GetEvent q: _history.Get(q.EventId, _state.IsLive, Sender); break;
            case Authorize q: Sender.Tell(new AuthorizeResult(_state.IsLive, _state.Opens(q.KeyHash))); break;
            case ReadRange r: _history.Read(r, _state.LastSeq, _settings.ReplayChunk, _settings.ReplayChunkBytes, Sender); break;

            case Subscribe s: OnSubscribe(s); break;
            case Resubscribe r: OnResubscribe(r); break;
            case Unsubscribe u: OnUnsubscribe(u); break;
            case SubscriberSet.Terminated t: RemoveSubscriber(t.Subscriber); break;

            case SaveSnapshotSuccess saved: OnSnapshotSaved(saved); break;
            case SaveSnapshotFailure failed: OnSnapshotFailed(failed); break;
            case DeleteSnapshotsSuccess or DeleteSnapshotsFailure: break;
            case ReceiveTimeout: OnIdle(); break;
            // Hand-off (a node leaving) and passivation: stop only after every write in flight has been answered and
            // published, so a rolling restart costs callers a pause, not a timeout and a retry.
            // The local route closes first; what came through it may be behind this message, so the entity stops on a
            // message of its own, queued behind all of them (LocalConversations), once every write in flight then,
            // theirs too, has been answered.
            case StopGracefully:
                CloseRoute();
                Self.Tell(StopNow.Instance);
                break;
            case StopNow stop: DeferAsync(stop, _ => Context.Stop(Self)); break;
            default: Unhandled(message); break;
        }
    }

    public override string PersistenceId => _persistenceId ??= PersistenceIdOf(_id); // asked on every write

    private string? _persistenceId;

    /// <summary>
    /// A write that arrives after its deadline (it waited in a region buffer while the shard moved, or in the stash
    /// while this entity recovered) is answered "not applied" and dropped before anything is decided: its caller has
    /// answered 503, and a 503 must never be stored later (CONTRACT §7).
    /// </summary>
    protected override bool AroundReceive(Receive receive, object message)
    {
        if (message is IWriteCommand write && write.IsExpired(Now()))
        {
            _log.Warning("Conversation {0}: dropped a {1} that arrived after its deadline", _id, message.GetType().Name);
            Sender.Tell(WriteReplies.Expired(write));
            return true;
        }
        return base.AroundReceive(receive, message);
    }

    public static string PersistenceIdOf(ConversationId id) => "conversation-" + id.Hex;

    // ---- recovery ----

    private void OnSnapshotOffer(SnapshotOffer offer)
    {
        switch (offer.Snapshot)
        {
            case ConversationSnapshot s: // state only: its log's index is loaded once the replay is done
                _state = _decided = s.State;
                _history.RecoveringFrom(s.State.LastSeq, offer.Metadata.SequenceNr);
                _snapshots.Offered(offer.Metadata.SequenceNr, s.State.LastSeq);
                break;
            case LegacyConversationSnapshot legacy: // the whole index inside: read once, then saved the new way
                _state = _decided = legacy.State;
                _history.Index.Load(legacy.Index);
                _snapshots.OfferedLegacy(offer.Metadata.SequenceNr, legacy.State.LastSeq);
                break;
            default:
                return;
        }
        _subscribers.PublishedSeq = _state.LastSeq;
    }

    private void OnRecovered()
    {
        _log.Debug("Conversation {0} recovered at seq {1}", _id, _state.LastSeq);
        _upstream.Update(_state);
        UpdateIdleTimeout();
        _route = _local.Open(_id, Self); // messages that come before the index is loaded wait in the stash, as the shard's do
        if (!_history.IndexPending)
        {
            SaveIndexSegment();
            return;
        }
        // Commands wait (stashed) until the index is whole: idempotency and every read need it.
        BecomeStacked(LoadingIndex);
        _history.LoadIndexAsync().PipeTo(Self, failure: e => new IndexLoadFailed(e));
    }

    private sealed record IndexLoadFailed(Exception Cause);

    private void LoadingIndex(object message)
    {
        switch (message)
        {
            case IndexSegments.Loaded loaded:
                _history.IndexLoaded(loaded.Index);
                _snapshots.SegmentsFound(loaded.SegmentsThrough);
                UnbecomeStacked();
                Stash.UnstashAll();
                SaveIndexSegment();
                break;
            case IndexLoadFailed f:
                _log.Error(f.Cause, "Loading the index of {0} failed; stopping (the next message recovers it again)", _id);
                Context.Stop(Self);
                break;
            default:
                Stash.Stash();
                break;
        }
    }

    // ---- writes ----

    /// <summary>Writes what a decision drafted or stored (answered once durable), or answers its refusal now.</summary>
    private void Execute(Decision decision, object reply)
    {
        switch (decision)
        {
            case Decision.Refuse r:
                Sender.Tell(WriteReplies.Refusal(reply, r.Code, r.Detail));
                return;
            case Decision.Append a:
                var stamped = _decided.Stamp(a.Drafts, Now());
                Persist(stamped, WriteReplies.Success(reply, a, stamped));
                return;
            case Decision.Store s:
                Persist(s.Events, WriteReplies.Success(reply, s, []));
                return;
        }
    }

    /// <summary>
    /// Writes one atomic batch; the reply goes out once it (and every earlier batch) is durable.
    /// The decided state moves on at once so the next command builds on it.
    /// </summary>
    private void Persist(IReadOnlyList<object> events, object reply)
    {
        var replyTo = Sender;
        _decided = _decided.ApplyAll(events, out _);
        foreach (var e in events)
            if (e is EventEnvelope env) _history.Writing(env);
        _awaiting.Enqueue((replyTo, WriteReplies.JournalUnavailable(reply)));
        var started = System.Diagnostics.Stopwatch.GetTimestamp();
        // Several log entries go to the journal as one row (EventBatch): one row, one insert and one journal sequence
        // number per write instead of per event. A conversation's own events (created, title…) stay rows of their own.
        // A write of more than EventBatch.MaxEntries is several such rows in the same atomic write: a read of one event
        // decodes at most one row's worth (a search page of rare events reads one row per event it returns).
        if (events.Count > 1 && AllLogEntries(events) is { } batch)
            PersistAllAsync(EventBatch.Rows(batch), b => ApplyDurable(b.Events));
        else if (events.Count > 0) PersistAllAsync(events, ApplyDurable);
        DeferAsync(reply, r =>
        {
            if (events.Count > 0) RecordWrite(events, started);
            // This batch and every earlier one are durable: reply, then publish, in that order.
            _awaiting.Dequeue();
            UpdateDirectory(events);
            replyTo.Tell(r is CreateResult c ? c with { Info = _state.Info } : r);
            _subscribers.Publish(events);
            AfterDurable(events);
        });
    }

    private static EventEnvelope[]? AllLogEntries(IReadOnlyList<object> events)
    {
        if (events is EventEnvelope[] stamped) return stamped;
        var result = new EventEnvelope[events.Count];
        for (var i = 0; i < result.Length; i++)
        {
            if (events[i] is not EventEnvelope e) return null;
            result[i] = e;
        }
        return result;
    }

    /// <summary>Applies one durable row of log entries (<see cref="EventBatch"/>): state, index and tail, as
    /// <see cref="ApplyDurable(object)"/> for each, with one new state for the row.</summary>
    private void ApplyDurable(EventEnvelope[] events)
    {
        _state = _state.ApplyAll(events, out var startedRunning);
        if (IsRecovering) _decided = _state;
        else if (startedRunning) _agent.Applied(wasRunning: false, isRunning: true);
        foreach (var e in events)
        {
            _history.Written(e, LastSequenceNr);
            if (IsRecovering) _subscribers.PublishedSeq = e.Seq;
        }
    }

    /// <summary>Applies one durable event: state, index and tail (publishing waits for the reply).</summary>
    private void ApplyDurable(object evt)
    {
        var wasRunning = _state.IsRunning;
        _state = _state.Apply(evt);
        if (IsRecovering) _decided = _state;
        else _agent.Applied(wasRunning, _state.IsRunning);
        if (evt is EventEnvelope e)
        {
            _history.Written(e, LastSequenceNr);
            if (IsRecovering) _subscribers.PublishedSeq = e.Seq;
        }
    }

    /// <summary>After a batch is durable and published: ended subscriptions, the agent, snapshots.</summary>
    private void AfterDurable(IReadOnlyList<object> events)
    {
        if (events.Count == 0) return;
        if (_state.Deleted) _subscribers.EndAll(RefusalReason.Deleted);
        if (_state.Upstream is null) _agent.Written(events, _state.Dialect, Context); // a bound conversation's agent runs upstream
        _upstream.Update(_state);
        if (_snapshots.Due(LastSequenceNr, _state) is { } snapshot) SaveSnapshot(snapshot);
        SaveIndexSegment();
        UpdateIdleTimeout();
    }

    private void UpdateDirectory(IReadOnlyList<object> events)
    {
        // The directory lists info and status: conversation events and status changes move it, other log entries not.
        for (var i = 0; i < events.Count; i++)
        {
            if (events[i] is EventEnvelope and not EventEnvelope { Kind: "ConversationStateUpdateEvent" }) continue;
            _directory.Tell(new DirectoryCommands.Upsert(_state.Info, _state.Deleted));
            return;
        }
    }

    private void RecordWrite(IReadOnlyList<object> events, long started)
    {
        SyncMetrics.JournalWriteLatency.Record(System.Diagnostics.Stopwatch.GetElapsedTime(started).TotalSeconds);
        var appended = 0;
        for (var i = 0; i < events.Count; i++)
            if (events[i] is EventEnvelope) appended++;
        if (appended > 0)
            SyncMetrics.EventsAppended.Add(appended, new KeyValuePair<string, object?>("dialect", _state.Dialect.ToWire()));
    }

    // ---- journal failures ----

    protected override void OnPersistFailure(Exception cause, object @event, long sequenceNr)
    {
        _log.Error(cause, "Journal write failed for {0} at {1}; answering unavailable and restarting from the journal", _id, sequenceNr);
        FailAwaiting();
        base.OnPersistFailure(cause, @event, sequenceNr);
    }

    protected override void OnPersistRejected(Exception cause, object @event, long sequenceNr)
    {
        _log.Error(cause, "Journal rejected an event for {0} at {1}", _id, sequenceNr);
        FailAwaiting();
        // The decided state already counted the rejected events: start over from the journal.
        Context.Stop(Self);
    }

    private void FailAwaiting()
    {
        while (_awaiting.TryDequeue(out var a)) a.ReplyTo.Tell(a.OnFailure);
    }

    // ---- snapshots: the state, and the index in segments (SnapshotPolicy) ----

    private string IndexPersistenceId => IndexSegments.PersistenceIdOf(PersistenceId);

    private void SaveIndexSegment()
    {
        if (_snapshots.SegmentDue(_history.Index) is { } segment)
            SnapshotStore.Tell(new SaveSnapshot(new SnapshotMetadata(IndexPersistenceId, segment.LastSeq, DateTime.UtcNow), segment));
    }

    private void OnSnapshotSaved(SaveSnapshotSuccess saved)
    {
        if (saved.Metadata.PersistenceId != IndexPersistenceId)
        {
            DeleteSnapshots(SnapshotPolicy.Superseded(saved.Metadata));
            return;
        }
        if (_snapshots.SegmentSaved(saved.Metadata.SequenceNr, LastSequenceNr, _state) is { } replacesLegacy) SaveSnapshot(replacesLegacy);
        SaveIndexSegment();
    }

    private void OnSnapshotFailed(SaveSnapshotFailure failed)
    {
        _log.Warning(failed.Cause, "Snapshot {0} of {1} failed; the journal still holds everything", failed.Metadata.PersistenceId, _id);
        if (failed.Metadata.PersistenceId == IndexPersistenceId) _snapshots.SegmentFailed(failed.Metadata.SequenceNr);
    }

    // ---- subscriptions ----

    private void OnSubscribe(Subscribe s)
    {
        var answer = _subscribers.Subscribe(s, _state, _history.Index, Now());
        Sender.Tell(answer);
        if (answer is Subscribed) UpdateIdleTimeout();
    }

    /// <summary>A node relay re-attaches the sockets it holds (this entity is new, or the relay checks a quiet conversation).</summary>
    private void OnResubscribe(Resubscribe r)
    {
        Sender.Tell(_subscribers.Resubscribe(r, _state));
        UpdateIdleTimeout();
    }

    private void OnUnsubscribe(Unsubscribe u)
    {
        _subscribers.Unsubscribe(u);
        UpdateIdleTimeout();
    }

    private void RemoveSubscriber(IActorRef subscriber)
    {
        _subscribers.Remove(subscriber);
        UpdateIdleTimeout();
    }

    // ---- passivation ----

    private void UpdateIdleTimeout()
    {
        if (_subscribers.Count > 0 || _decided.IsRunning && _agent.HasAgent || _upstream.IsFollowing)
            Context.SetReceiveTimeout(null);
        else
            Context.SetReceiveTimeout(_state.IsLive ? _settings.IdleTimeout : _settings.AbsentIdleTimeout);
    }

    private void OnIdle()
    {
        if (_subscribers.Count > 0 || _awaiting.Count > 0) return;
        CloseRoute(); // what came through it is ahead of the shard's stop message; what comes later, the shard buffers
        Context.Parent.Tell(new Passivate(StopGracefully.Instance));
    }

    protected override void PreStart()
    {
        SyncMetrics.ConversationsActive.Add(1);
        base.PreStart();
    }

    private void CloseRoute()
    {
        _route?.Close();
        _route = null;
    }

    protected override void PostStop()
    {
        CloseRoute();
        SyncMetrics.ConversationsActive.Add(-1);
        base.PostStop();
    }

    private static DateTime Now() => DateTime.UtcNow;

    /// <summary>The shard's hand-off and passivation stop message (local: shard and entity share a node).</summary>
    public sealed record StopGracefully
    {
        public static readonly StopGracefully Instance = new();
    }

    /// <summary>To itself, after <see cref="StopGracefully"/>: behind everything its local route let through.</summary>
    private sealed record StopNow
    {
        public static readonly StopNow Instance = new();
    }
}
