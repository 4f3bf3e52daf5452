using Akka.Actor;
using Akka.Event;
using Akka.Sync.Actors.Observability;
using Akka.Sync.Protocol;
using static Akka.Sync.Protocol.ConversationSubscription;

namespace Akka.Sync.Actors.Connections;

/// <summary>
/// One per socket, on the node holding the socket. <c>Subscribing → Replaying → Live</c>:
/// subscribe (the ack carries the last published seq), replay up to it in paced chunks, then deliver live events,
/// dropping any seq already delivered and repairing any gap from the log. Live events that arrive before the replay is
/// done are not held: their seqs extend the replay, which reads them from the log, so a long replay holds no more than
/// a chunk. When the entity stops or moves it resubscribes from the last delivered seq, and when the conversation is
/// quiet it asks the entity for its last seq, so a publish lost on the way is noticed: the socket sees every event
/// exactly once, in order. It never restarts: a failure closes the socket (1011), and the client resumes.
/// Across nodes it subscribes through its node's <see cref="ConversationRelay"/>, which it then treats as the entity: the
/// relay re-attaches when the entity moves and makes the quiet check for all of them (a socket on a relay keeps no quiet
/// timer of its own). A socket and its relay do not watch each other: each tells the other when it stops.
/// </summary>
/// <remarks>
/// One of these lives per socket, so it is an <see cref="UntypedActor"/> whose state is a field and whose handlers are
/// one <c>switch</c> per state, compiled once: a <see cref="ReceiveActor"/> builds its handler table per instance and
/// again on every <c>Become</c> (two tables of ~16 delegates each, ~2.6 KB per socket; bench/NOTES.md, "100k sockets").
/// </remarks>
public sealed class ConnectionActor : UntypedActor
{
    private enum Phase : byte { Subscribing, Replaying, Live }

    public sealed record ClientMessage(UserMessage Message);
    public sealed record ClientUserAction(Akka.Sync.Protocol.V0.V0Incoming Action, long? AckId = null);
    public sealed record ClientBadFrame(string Detail);
    private sealed record EntityTerminated;
    // Timer messages carry their timer's generation: one cancelled or replaced meanwhile is ignored when it arrives.
    private sealed record RetrySubscribe(int Generation);
    private sealed record RetryRead(int Generation);
    private sealed record RoomForReplay;
    private sealed record QuietCheck(int Generation);
    private sealed record MessageOutcome(object Result, long? AckId);

    private readonly IActorRef _region;
    private readonly IActorRef _subscribeVia; // the relay registry, or the region itself (Direct)
    private readonly Dialect _dialect;
    private ConversationId _id; // with the sink, from the constructor or the first message (Start, shared props)
    private IClientSink _sink = null!;
    private readonly ConnectionSettings _settings;
    // Made on the first line logged (rare: a failure, a gap), not per actor (~60 bytes per socket).
    private ILoggingAdapter Log => field ??= Context.GetLogger();
    private ReplayFrom _from = null!;
    private IActorRef? _entity;
    private long _lastDelivered;
    private long _replayTarget;
    private long _readFrom; // the FromSeq of the range read in flight; 0 when none is
    private bool _awaitingRoom;
    private long _highestSeen; // the newest seq published to this actor, delivered or not
    private int _commandsInFlight;
    private long _lastActivity = System.Diagnostics.Stopwatch.GetTimestamp();
    private bool _sentFullState;
    private bool _replayCompleted;
    private readonly long _subscribedAt = System.Diagnostics.Stopwatch.GetTimestamp();
    private Phase _phase = Phase.Subscribing;

    // The actor's three timers, without Akka's TimerScheduler (its scheduler, table and entries, ~240 bytes, were held
    // per socket for its life): a cancelable while one runs, and a generation each.
    private ICancelable? _subscribeTimer, _readTimer, _quietTimer;
    private int _subscribeGeneration, _readGeneration, _quietGeneration;

    private void StartTimer(ref ICancelable? timer, object message, TimeSpan delay, bool periodic = false)
    {
        timer?.Cancel();
        var scheduler = Context.System.Scheduler;
        timer = periodic
            ? scheduler.ScheduleTellRepeatedlyCancelable(delay, delay, Self, message, Self)
            : scheduler.ScheduleTellOnceCancelable(delay, Self, message, Self);
    }

    private static void CancelTimer(ref ICancelable? timer, ref int generation)
    {
        timer?.Cancel();
        timer = null;
        generation++;
    }

    /// <summary>The seq of the last event handed to the socket (for tests and logs).</summary>
    public long LastDelivered => _lastDelivered;

    /// <param name="relays">
    /// This node's <see cref="RelayRegistry"/>: the socket subscribes through its node's relay for the conversation (one
    /// crossing per node per write). Null: it subscribes to the entity itself through <paramref name="region"/>.
    /// </param>
    public static Props Props(IActorRef region, ConversationId id, Dialect dialect, ReplayFrom from, IClientSink sink,
        ConnectionSettings? settings = null, IActorRef? relays = null) =>
        Akka.Actor.Props.CreateBy(new Producer(region, id, dialect, from, sink, settings ?? ConnectionSettings.Default, relays));

    /// <summary>
    /// Creates the actor with a plain constructor call. <c>Props.Create(() => new …)</c> evaluates the expression's
    /// arguments on every call, compiling a dynamic method for any that is not a plain captured value (here
    /// <c>settings ?? …</c>): per socket, that JIT work and those dynamic methods' finalizers were ~590 µs of CPU per
    /// connect (bench/NOTES.md, "100k sockets").
    /// </summary>
    private sealed class Producer(IActorRef region, ConversationId id, Dialect dialect, ReplayFrom from, IClientSink sink, ConnectionSettings settings,
        IActorRef? relays) : IIndirectActorProducer
    {
        public Type ActorType => typeof(ConnectionActor);
        public ActorBase Produce() => new ConnectionActor(region, id, dialect, from, sink, settings, relays);
        public void Release(ActorBase actor) { }
    }

    /// <summary>
    /// The first message of an actor made from <see cref="SharedProps"/>: its socket's conversation, replay start and sink.
    /// </summary>
    public sealed record Start(ConversationId Id, ReplayFrom From, IClientSink Sink);

    /// <summary>
    /// Props one node shares between all its sockets of one dialect (the gateway adds <see cref="ConnectionMailbox"/> once):
    /// each actor made from them waits for its <see cref="Start"/>, told right after it is made, and subscribes then.
    /// Per-socket props (a producer, the props and their deploy, ~220 bytes) were held by each actor for its life.
    /// </summary>
    public static Props SharedProps(IActorRef region, Dialect dialect, ConnectionSettings settings, IActorRef? relays) =>
        Akka.Actor.Props.CreateBy(new SharedProducer(region, dialect, settings, relays));

    private sealed class SharedProducer(IActorRef region, Dialect dialect, ConnectionSettings settings, IActorRef? relays) : IIndirectActorProducer
    {
        public Type ActorType => typeof(ConnectionActor);
        public ActorBase Produce() => new ConnectionActor(region, dialect, settings, relays);
        public void Release(ActorBase actor) { }
    }

    private ConnectionActor(IActorRef region, Dialect dialect, ConnectionSettings settings, IActorRef? relays)
    {
        _region = region;
        _subscribeVia = relays ?? region;
        _dialect = dialect;
        _settings = settings;
    }

    public ConnectionActor(IActorRef region, ConversationId id, Dialect dialect, ReplayFrom from, IClientSink sink, ConnectionSettings settings,
        IActorRef? relays = null)
    {
        _region = region;
        _subscribeVia = relays ?? region;
        _id = id;
        _dialect = dialect;
        _from = from;
        _sink = sink;
        _settings = settings;
    }

    protected override void OnReceive(object message)
    {
        if (_sink is null)
        {
            // Made from the shared props: its Start comes first (the session tells it right after making it).
            if (message is Start start)
            {
                (_id, _from, _sink) = (start.Id, start.From, start.Sink);
                SendSubscribe();
            }
            else
            {
                Log.Error("A connection got {0} before its Start; stopping", message.GetType().Name);
                Context.Stop(Self);
            }
            return;
        }
        var handled = _phase switch
        {
            Phase.Subscribing => Subscribing(message),
            Phase.Replaying => Replaying(message),
            _ => Live(message),
        };
        if (!handled && !ReceiveCommon(message)) Unhandled(message);
    }

    protected override void PreStart()
    {
        if (_sink is not null) SendSubscribe(); // else on its Start
    }

    /// <summary>
    /// A connection actor must never restart: a restart would subscribe from where it began and send the full state and
    /// the replay again (duplicates). Whatever throws closes the socket with 1011; the client resumes with its last id.
    /// </summary>
    protected override bool AroundReceive(Receive receive, object message)
    {
        if (message is EventEnvelope or EventsPublished && Sender.Path.Address.HasGlobalScope)
            SyncMetrics.RemotePublishesReceived.Add(1); // subscribed without a relay, from an entity on another node
        try
        {
            return base.AroundReceive(receive, message);
        }
        catch (Exception e)
        {
            Log.Error(e, "Conversation {0}: the connection failed on {1}; closing the socket", _id, message.GetType().Name);
            Close(CloseCodes.InternalError, "internal error");
            return true;
        }
    }

    protected override void PostStop()
    {
        CancelTimer(ref _subscribeTimer, ref _subscribeGeneration);
        CancelTimer(ref _readTimer, ref _readGeneration);
        CancelTimer(ref _quietTimer, ref _quietGeneration);
        // Through a relay, a subscription still pending is withdrawn through the registry (the socket does not know its
        // relay yet). An actor stopped before its Start never subscribed.
        if (_sink is not null) (_entity ?? (Direct ? null : _subscribeVia))?.Tell(new Unsubscribe(_id, Self));
        base.PostStop();
    }

    // ---- subscribing ----

    private bool Subscribing(object message)
    {
        switch (message)
        {
            case Subscribed s: OnSubscribed(s); return true;
            case Refused r: CloseWith(r.Reason); return true;
            case RetrySubscribe r when r.Generation == _subscribeGeneration: SendSubscribe(); return true;
            case EventEnvelope e: Seen(e.Seq); return true;
            case EventsPublished b: Seen(b.Events[^1].Seq); return true;
            default: return false;
        }
    }

    /// <summary>A live event before the replay is done: the replay will read it from the log.</summary>
    private void Seen(long seq) => _highestSeen = Math.Max(_highestSeen, seq);

    private void SendSubscribe()
    {
        _subscribeVia.Tell(new Subscribe(_id, Self, _from, _dialect));
        // The region buffers while a shard is homeless; retry in case the entity never answered.
        StartTimer(ref _subscribeTimer, new RetrySubscribe(++_subscribeGeneration), _settings.RequestTimeout);
    }

    /// <summary>Subscribed to the entity itself (no relay): it may be on another node, and is watched.</summary>
    private bool Direct => ReferenceEquals(_subscribeVia, _region);

    private void OnSubscribed(Subscribed s)
    {
        CancelTimer(ref _subscribeTimer, ref _subscribeGeneration);
        // A relay is not watched: it tells its sockets when it stops (ConversationRelay.Stopped), and is told when one does.
        if (_entity is not null && Direct) Context.Unwatch(_entity);
        _entity = Sender;
        if (Direct) Context.WatchWith(_entity, new EntityTerminated());
        if (!_sentFullState)
        {
            _sink.WriteFullState(s.FullState);
            _sentFullState = true;
            _lastDelivered = s.ReplayAfterSeq;
        }
        // Every later event will be published to us; what is missing up to LastSeq is read from the log.
        // A read sent to an entity that has gone will not be answered: start reading afresh.
        _replayTarget = s.LastSeq;
        _readFrom = 0;
        CancelTimer(ref _readTimer, ref _readGeneration);
        StartReplayOrLive();
    }

    private void StartReplayOrLive()
    {
        _replayTarget = Math.Max(_replayTarget, _highestSeen);
        if (_lastDelivered >= _replayTarget)
        {
            if (!_replayCompleted)
            {
                _replayCompleted = true;
                _sink.ReplayCompleted();
                SyncMetrics.ReplayDuration.Record(System.Diagnostics.Stopwatch.GetElapsedTime(_subscribedAt).TotalSeconds);
            }
            _phase = Phase.Live;
            // Through a relay the quiet check is the relay's, once for the node (a local hop loses nothing): a timer per
            // socket (~180 bytes, and a message per socket every QuietResync) only when subscribed to the entity itself.
            if (_settings.QuietResync > TimeSpan.Zero && Direct)
                StartTimer(ref _quietTimer, new QuietCheck(++_quietGeneration), _settings.QuietResync, periodic: true);
            return;
        }
        _phase = Phase.Replaying;
        RequestRange();
    }

    // ---- replaying ----

    private bool Replaying(object message)
    {
        switch (message)
        {
            case EventRange r: OnRange(r); return true;
            // Both may find the replay already complete (a late answer delivered the rest meanwhile).
            case RetryRead r when r.Generation == _readGeneration: _readFrom = 0; StartReplayOrLive(); return true;
            case RoomForReplay: _awaitingRoom = false; StartReplayOrLive(); return true;
            case EventEnvelope e: Seen(e.Seq); return true;
            case EventsPublished b: Seen(b.Events[^1].Seq); return true;
            case Subscribed s: Seen(s.LastSeq); return true; // a late answer to a retried subscribe
            default: return false;
        }
    }

    private void RequestRange()
    {
        if (_awaitingRoom) return;
        if (!_sink.HasRoomForReplay)
        {
            AwaitRoom();
            return;
        }
        if (_readFrom != 0) return; // one read in flight at a time; its answer asks for the next
        _readFrom = _lastDelivered + 1;
        _region.Tell(new ReadRange(_id, _readFrom, _replayTarget, _settings.ReplayChunk));
        StartTimer(ref _readTimer, new RetryRead(++_readGeneration), _settings.RequestTimeout);
    }

    /// <summary>Replay is paced by the socket: read on once its queue has room (never at once: it would be refused again).</summary>
    private void AwaitRoom()
    {
        if (_awaitingRoom) return;
        _awaitingRoom = true;
        _sink.WhenRoomForReplay().PipeTo(Self, success: () => new RoomForReplay(), failure: _ => new RoomForReplay());
    }

    private void OnRange(EventRange r)
    {
        // Only the answer to the read in flight drives the next read. An answer to a read given up on after a
        // timeout still delivers what it brings, but asks for nothing: otherwise two reads stay in flight for good.
        var current = _readFrom != 0 && (r.Events.Length == 0 || r.Events[0].Seq == _readFrom);
        if (current)
        {
            CancelTimer(ref _readTimer, ref _readGeneration);
            _readFrom = 0;
        }
        foreach (var e in r.Events)
        {
            if (e.Seq <= _lastDelivered) continue;
            if (e.Seq != _lastDelivered + 1) break; // a stale answer; ask again from where we are
            if (!_sink.TryWriteEvent(e, replay: true))
            {
                if (current) AwaitRoom();
                return;
            }
            _lastDelivered = e.Seq;
        }
        if (!current) return;
        if (r.Events.Length == 0 && _lastDelivered < _replayTarget)
        {
            // The log does not hold what the entity announced: a bug, not a client problem.
            Log.Error("Conversation {0}: replay found nothing after seq {1} (target {2})", _id, _lastDelivered, _replayTarget);
            Close(CloseCodes.InternalError, "replay failed");
            return;
        }
        StartReplayOrLive();
    }

    // ---- live ----

    private bool Live(object message)
    {
        switch (message)
        {
            case EventEnvelope e:
                if (!RepairGapBefore(e, e.Seq)) Deliver(e, replay: false);
                _lastActivity = System.Diagnostics.Stopwatch.GetTimestamp();
                return true;
            case EventsPublished batch:
                foreach (var e in batch.Events)
                    if (RepairGapBefore(e, batch.Events[^1].Seq) || !Deliver(e, replay: false)) break;
                _lastActivity = System.Diagnostics.Stopwatch.GetTimestamp(); // once per message, not per event
                return true;
            case Subscribed s:
                // The answer to a quiet check (or a late one): anything published that never arrived is read from the log.
                if (s.LastSeq <= _lastDelivered) return true;
                Log.Warning("Conversation {0}: seqs {1}..{2} were published but never arrived; reading them from the log", _id, _lastDelivered + 1, s.LastSeq);
                Seen(s.LastSeq);
                CancelTimer(ref _quietTimer, ref _quietGeneration);
                StartReplayOrLive();
                return true;
            case QuietCheck q when q.Generation == _quietGeneration: CheckQuiet(); return true;
            case Refused r: CloseWith(r.Reason); return true;
            default: return false;
        }
    }

    /// <summary>
    /// A gap before <paramref name="e"/>: read what is missing, and this message's events, from the log, then carry on.
    /// </summary>
    private bool RepairGapBefore(EventEnvelope e, long lastOfMessage)
    {
        if (e.Seq <= _lastDelivered + 1) return false;
        Log.Warning("Conversation {0}: gap before seq {1} after {2}; repairing from the log", _id, e.Seq, _lastDelivered);
        Seen(lastOfMessage);
        CancelTimer(ref _quietTimer, ref _quietGeneration);
        StartReplayOrLive();
        return true;
    }

    /// <summary>
    /// Remoting drops what it cannot deliver (a gated link), and a lost publish is otherwise noticed only when a later
    /// event arrives — never, if it was the last. When nothing arrived for a while, ask the entity for its last seq.
    /// </summary>
    private void CheckQuiet()
    {
        if (_entity is null || System.Diagnostics.Stopwatch.GetElapsedTime(_lastActivity) < _settings.QuietResync) return;
        _lastActivity = System.Diagnostics.Stopwatch.GetTimestamp();
        _entity.Tell(new Subscribe(_id, Self, ReplayFrom.Seq(_lastDelivered), _dialect));
    }

    /// <summary>What every phase handles the same way (after the phase's own handlers).</summary>
    private bool ReceiveCommon(object message)
    {
        switch (message)
        {
            case ConversationRelay.Stopped when !Direct && (_entity is null || Sender.Equals(_entity)):
            case EntityTerminated:
                // The entity passivated, moved or its node died (or the relay failed): resubscribe from what the socket has.
                // Not while this node stops: the socket is about to be closed (1012) and its client resumes on another node.
                _entity = null;
                _from = ReplayFrom.Seq(_lastDelivered);
                _phase = Phase.Subscribing;
                if (CoordinatedShutdown.Get(Context.System).ShutdownReason is null) SendSubscribe();
                return true;
            case Ended e: CloseWith(e.Reason); return true;
            case ClientMessage m: SendCommand(new ConversationCommands.SendMessage(_id, m.Message), null); return true;
            case ClientUserAction a: SendCommand(new ConversationCommands.SubmitUserAction(_id, a.Action), a.AckId); return true;
            case MessageOutcome o: OnOutcome(o); return true;
            case ClientBadFrame b: _sink.WriteError("bad_frame", b.Detail); return true;
            // Left over from a replay that ended or was interrupted by a resubscription, or from leaving Live.
            case EventRange: return true;
            case RetryRead r: if (r.Generation == _readGeneration) _readFrom = 0; return true;
            case RetrySubscribe: return true; // a retry cancelled or replaced meanwhile
            case RoomForReplay: _awaitingRoom = false; return true;
            case QuietCheck: return true;
            case ConversationRelay.Stopped: return true; // from a relay this socket has already left
            default: return false;
        }
    }

    /// <summary>
    /// A client's command goes to its conversation, at most <c>MaxCommandsInFlight</c> at a time per socket: past it the
    /// command is not applied and the client is told <c>busy</c> (a client that sends without waiting cannot pile up
    /// work on the server).
    /// </summary>
    private void SendCommand(object command, long? ackId)
    {
        if (_commandsInFlight >= _settings.MaxCommandsInFlight)
        {
            var detail = $"too many commands in flight on this socket (at most {_settings.MaxCommandsInFlight}); this one was not applied, send it again after an answer";
            _sink.WriteError("busy", detail);
            if (ackId is { } busyAck) _sink.Acknowledge(busyAck, detail);
            return;
        }
        _commandsInFlight++;
        if (command is IWriteCommand write)
            command = write.WithDeadline(IWriteCommand.DeadlineFor(DateTime.UtcNow, _settings.RequestTimeout));
        _region.Ask<ConversationReplies.CommandResult>(command, _settings.RequestTimeout)
            .PipeTo(Self, success: r => new MessageOutcome(r, ackId), failure: ex => new MessageOutcome(ex, ackId));
    }

    /// <summary>The command's answer: an ack once it is durable, or an error frame (and the ack, with the error) when not.</summary>
    private void OnOutcome(MessageOutcome o)
    {
        _commandsInFlight--;
        string? error = null;
        switch (o.Result)
        {
            case ConversationReplies.CommandResult { Code: ResultCode.Ok }:
                break;
            case ConversationReplies.CommandResult r:
                error = r.Detail ?? r.Code.ToString();
                _sink.WriteError(r.Code == ResultCode.Unavailable ? "unavailable" : "rejected", error);
                break;
            default:
                error = "the conversation did not answer in time; the message may not be stored";
                _sink.WriteError("unavailable", error);
                break;
        }
        if (o.AckId is { } ackId) _sink.Acknowledge(ackId, error);
    }

    /// <summary>Hands one event to the socket unless already delivered; closes a slow consumer.</summary>
    private bool Deliver(EventEnvelope e, bool replay)
    {
        if (e.Seq <= _lastDelivered) return true;
        if (e.Seq != _lastDelivered + 1)
        {
            Log.Error("Conversation {0}: out-of-order seq {1} after {2}", _id, e.Seq, _lastDelivered);
            return true;
        }
        if (!_sink.TryWriteEvent(e, replay))
        {
            SyncMetrics.SlowConsumerCloses.Add(1);
            Close(CloseCodes.TryAgainLater, "slow consumer");
            return false;
        }
        _lastDelivered = e.Seq;
        return true;
    }

    private void CloseWith(RefusalReason reason)
    {
        switch (reason)
        {
            case RefusalReason.UnknownAfterEventId: Close(CloseCodes.UnknownAfterEventId, "unknown after_event_id"); break;
            case RefusalReason.TooManySubscribers: Close(CloseCodes.TryAgainLater, "too many sockets on this conversation"); break;
            case RefusalReason.WrongProtocol: Close(CloseCodes.NotFound, $"wrong protocol: conversation is {(_dialect == Dialect.V1 ? "v0" : "v1")}"); break;
            default: Close(CloseCodes.NotFound, "Conversation not found"); break;
        }
    }

    private void Close(int code, string reason)
    {
        _sink.Close(code, reason);
        Context.Stop(Self);
    }
}

/// <param name="ReplayChunk">Events asked for per replay read (the entity also bounds a chunk in bytes).</param>
/// <param name="RequestTimeout">How long a subscribe, read or command waits for the entity.</param>
/// <param name="MaxCommandsInFlight">A socket's own commands awaiting their answer; past it, <c>busy</c>.</param>
/// <param name="QuietResync">After this long without an event, the entity is asked for its last seq (a lost publish); zero: never.</param>
public sealed record ConnectionSettings(int ReplayChunk = 500, TimeSpan RequestTimeout = default, int MaxCommandsInFlight = 16,
    TimeSpan QuietResync = default)
{
    public static ConnectionSettings Default { get; } = new(500, TimeSpan.FromSeconds(5), 16, TimeSpan.FromSeconds(30));
}
