using Akka.Actor;
using Akka.Event;
using Akka.Sync.Actors.Observability;
using Akka.Sync.Protocol;
using static Akka.Sync.Protocol.ConversationSubscription;

namespace Akka.Sync.Actors.Connections;

/// <summary>
/// One per socket, on the node holding the socket. <c>Subscribing → Replaying → Live</c>:
/// subscribe (the ack carries the last published seq), replay up to it in paced chunks while stashing
/// live events, then deliver live events, dropping any seq already delivered and repairing any gap from
/// the log. When the entity stops or moves it resubscribes from the last delivered seq, so the socket sees
/// every event exactly once, in order.
/// </summary>
public sealed class ConnectionActor : ReceiveActor, IWithUnboundedStash, IWithTimers
{
    public sealed record ClientMessage(UserMessage Message);
    public sealed record ClientUserAction(Akka.Sync.Protocol.V0.V0Incoming Action);
    public sealed record ClientBadFrame(string Detail);
    private sealed record EntityTerminated;
    private sealed record RetrySubscribe;
    private sealed record RetryRead;
    private sealed record RoomForReplay;
    private sealed record MessageOutcome(object Result);

    private readonly IActorRef _region;
    private readonly ConversationId _id;
    private readonly Dialect _dialect;
    private readonly IClientSink _sink;
    private readonly ConnectionSettings _settings;
    private readonly ILoggingAdapter _log = Context.GetLogger();
    private ReplayFrom _from;
    private IActorRef? _entity;
    private long _lastDelivered;
    private long _replayTarget;
    private long _readFrom; // the FromSeq of the range read in flight; 0 when none is
    private bool _awaitingRoom;
    private bool _sentFullState;
    private bool _replayCompleted;
    private readonly long _subscribedAt = System.Diagnostics.Stopwatch.GetTimestamp();

    public IStash Stash { get; set; } = null!;
    public ITimerScheduler Timers { get; set; } = null!;

    /// <summary>The seq of the last event handed to the socket (for tests and logs).</summary>
    public long LastDelivered => _lastDelivered;

    public static Props Props(IActorRef region, ConversationId id, Dialect dialect, ReplayFrom from, IClientSink sink, ConnectionSettings? settings = null) =>
        Akka.Actor.Props.Create(() => new ConnectionActor(region, id, dialect, from, sink, settings ?? ConnectionSettings.Default));

    public ConnectionActor(IActorRef region, ConversationId id, Dialect dialect, ReplayFrom from, IClientSink sink, ConnectionSettings settings)
    {
        _region = region;
        _id = id;
        _dialect = dialect;
        _from = from;
        _sink = sink;
        _settings = settings;
        Subscribing();
    }

    protected override void PreStart() => SendSubscribe();

    protected override void PostStop()
    {
        _entity?.Tell(new Unsubscribe(_id, Self));
        base.PostStop();
    }

    // ---- subscribing ----

    private void Subscribing()
    {
        Receive<Subscribed>(OnSubscribed);
        Receive<Refused>(r => CloseWith(r.Reason));
        Receive<RetrySubscribe>(_ => SendSubscribe());
        Receive<EventEnvelope>(_ => Stash.Stash());
        Receive<EventsPublished>(_ => Stash.Stash());
        ReceiveCommon();
    }

    private void SendSubscribe()
    {
        _region.Tell(new Subscribe(_id, Self, _from, _dialect));
        // The region buffers while a shard is homeless; retry in case the entity never answered.
        Timers.StartSingleTimer("subscribe", new RetrySubscribe(), _settings.RequestTimeout);
    }

    private void OnSubscribed(Subscribed s)
    {
        Timers.Cancel("subscribe");
        if (_entity is not null) Context.Unwatch(_entity);
        _entity = Sender;
        Context.WatchWith(_entity, new EntityTerminated());
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
        Timers.Cancel("read");
        StartReplayOrLive();
    }

    private void StartReplayOrLive()
    {
        if (_lastDelivered >= _replayTarget)
        {
            if (!_replayCompleted)
            {
                _replayCompleted = true;
                _sink.ReplayCompleted();
                SyncMetrics.ReplayDuration.Record(System.Diagnostics.Stopwatch.GetElapsedTime(_subscribedAt).TotalSeconds);
            }
            Become(Live);
            Stash.UnstashAll();
            return;
        }
        Become(Replaying);
        RequestRange();
    }

    // ---- replaying ----

    private void Replaying()
    {
        Receive<EventRange>(OnRange);
        // Both may find the replay already complete (a late answer delivered the rest meanwhile).
        Receive<RetryRead>(_ => { _readFrom = 0; StartReplayOrLive(); });
        Receive<RoomForReplay>(_ => { _awaitingRoom = false; StartReplayOrLive(); });
        Receive<EventEnvelope>(_ => Stash.Stash());
        Receive<EventsPublished>(_ => Stash.Stash());
        Receive<Subscribed>(_ => { }); // a late answer to a retried subscribe
        ReceiveCommon();
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
        Timers.StartSingleTimer("read", new RetryRead(), _settings.RequestTimeout);
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
            Timers.Cancel("read");
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
            _log.Error("Conversation {0}: replay found nothing after seq {1} (target {2})", _id, _lastDelivered, _replayTarget);
            Close(1011, "replay failed");
            return;
        }
        StartReplayOrLive();
    }

    // ---- live ----

    private void Live()
    {
        Receive<EventEnvelope>(e => { if (!RepairGapBefore(e)) Deliver(e, replay: false); });
        Receive<EventsPublished>(batch =>
        {
            // Already-delivered seqs are dropped by Deliver, so a batch stashed for a gap repair can be replayed whole.
            foreach (var e in batch.Events)
                if (RepairGapBefore(e) || !Deliver(e, replay: false)) return;
        });
        Receive<Subscribed>(s => { if (s.LastSeq > _lastDelivered) { _replayTarget = s.LastSeq; StartReplayOrLive(); } });
        ReceiveCommon();
    }

    /// <summary>A gap before <paramref name="e"/>: stash the current message, read what is missing from the log, then carry on.</summary>
    private bool RepairGapBefore(EventEnvelope e)
    {
        if (e.Seq <= _lastDelivered + 1) return false;
        Stash.Stash();
        _replayTarget = e.Seq - 1;
        _log.Warning("Conversation {0}: gap before seq {1} after {2}; repairing from the log", _id, e.Seq, _lastDelivered);
        StartReplayOrLive();
        return true;
    }

    private void ReceiveCommon()
    {
        Receive<EntityTerminated>(_ =>
        {
            // The entity passivated, moved or its node died: resubscribe from what the socket has.
            _entity = null;
            _from = ReplayFrom.Seq(_lastDelivered);
            Become(Subscribing);
            SendSubscribe();
        });
        Receive<Ended>(e => CloseWith(e.Reason));
        Receive<ClientMessage>(m => SendCommand(new ConversationCommands.SendMessage(_id, m.Message)));
        Receive<ClientUserAction>(a => SendCommand(new ConversationCommands.SubmitUserAction(_id, a.Action)));
        Receive<MessageOutcome>(o =>
        {
            switch (o.Result)
            {
                case ConversationReplies.CommandResult { Code: ResultCode.Ok }:
                    break;
                case ConversationReplies.CommandResult r:
                    _sink.WriteError(r.Code == ResultCode.Unavailable ? "unavailable" : "rejected", r.Detail ?? r.Code.ToString());
                    break;
                default:
                    _sink.WriteError("unavailable", "the conversation did not answer in time; the message may not be stored");
                    break;
            }
        });
        Receive<ClientBadFrame>(b => _sink.WriteError("bad_frame", b.Detail));
        // Left over from a replay that ended or was interrupted by a resubscription.
        Receive<EventRange>(_ => { });
        Receive<RetryRead>(_ => _readFrom = 0);
        Receive<RoomForReplay>(_ => _awaitingRoom = false);
    }

    /// <summary>A client's command goes to its conversation; a refusal comes back as an error frame.</summary>
    private void SendCommand(object command) =>
        _region.Ask<ConversationReplies.CommandResult>(command, _settings.RequestTimeout)
            .PipeTo(Self, success: r => new MessageOutcome(r), failure: ex => new MessageOutcome(ex));

    /// <summary>Hands one event to the socket unless already delivered; closes a slow consumer.</summary>
    private bool Deliver(EventEnvelope e, bool replay)
    {
        if (e.Seq <= _lastDelivered) return true;
        if (e.Seq != _lastDelivered + 1)
        {
            _log.Error("Conversation {0}: out-of-order seq {1} after {2}", _id, e.Seq, _lastDelivered);
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

public sealed record ConnectionSettings(int ReplayChunk = 500, TimeSpan RequestTimeout = default)
{
    public static ConnectionSettings Default { get; } = new(500, TimeSpan.FromSeconds(5));
}
