using Akka.Actor;
using Akka.Event;
using Akka.Sync.Actors.Observability;
using Akka.Sync.Protocol;
using static Akka.Sync.Protocol.ConversationSubscription;

namespace Akka.Sync.Actors.Connections;

/// <summary>
/// A node's one subscription to one conversation, as Phoenix.PubSub and Centrifugo's broker cross the network once per
/// node: the connection actors of this node's sockets subscribe through it (<see cref="RelayRegistry"/> routes them),
/// the entity publishes each write to it once, and it hands the same message instance (the same bytes, deserialised once
/// on this node) to each local connection actor.
/// <para>
/// Each socket still negotiates with the entity (checks, the socket limit, where its replay starts, full_state): its
/// <see cref="Subscribe"/> goes through here and its answer comes back through here, in the entity's order, so the
/// socket is added to the fan-out exactly where its <see cref="Subscribed.LastSeq"/> says — the publishes after it
/// follow the answer, the ones before it the socket reads as replay. Replay stays per socket, read from the log.
/// </para>
/// <para>
/// The stream it forwards is contiguous: a gap (a publish lost on a gated link) is read from the log and forwarded in
/// order, later publishes meanwhile extending the read; when the entity stops or moves the relay re-attaches once
/// (<see cref="Resubscribe"/>) and reads what it missed; when the conversation is quiet it asks the entity for its
/// last seq. Sockets keep their own dedup by seq. When its last socket leaves it tells the registry, which retires it.
/// </para>
/// </summary>
public sealed class ConversationRelay : ReceiveActor, IWithTimers
{
    /// <summary>To the registry: no socket is left here.</summary>
    public sealed record Idle(ConversationId ConversationId);

    /// <summary>From the registry: no more sockets are routed here; stop once the last one has left.</summary>
    public sealed record Retire
    {
        public static readonly Retire Instance = new();
    }

    /// <summary>
    /// To each of its sockets when a relay stops (only on a failure: a relay retires once it has none): resubscribe.
    /// Told from its <c>PostStop</c>, after everything it sent them, instead of each socket watching its relay.
    /// </summary>
    public sealed record Stopped
    {
        public static readonly Stopped Instance = new();
    }

    private sealed record EntityTerminated(IActorRef Entity);
    private sealed record RetryResubscribe;
    private sealed record RetryRead;
    private sealed record QuietCheck;

    private readonly IActorRef _region;
    private readonly ConversationId _id;
    private readonly ConnectionSettings _settings;
    private readonly ILoggingAdapter _log = Context.GetLogger();
    private readonly HashSet<IActorRef> _pending = []; // sockets whose Subscribe went to the entity, not yet answered
    private readonly HashSet<IActorRef> _attached = []; // sockets the stream is forwarded to
    private IActorRef? _entity;
    private long _forwarded = -1; // the last seq forwarded to every attached socket; -1: no stream (nothing attached)
    private long _highestSeen; // the newest seq known to be published
    private long _readFrom; // the FromSeq of the read in flight; 0 when none is
    private bool _resubscribing;
    private bool _retired;
    private long _lastActivity = System.Diagnostics.Stopwatch.GetTimestamp();

    public ITimerScheduler Timers { get; set; } = null!;

    public static Props Props(IActorRef region, ConversationId id, ConnectionSettings settings) =>
        Akka.Actor.Props.Create(() => new ConversationRelay(region, id, settings));

    public ConversationRelay(IActorRef region, ConversationId id, ConnectionSettings settings)
    {
        _region = region;
        _id = id;
        _settings = settings;

        Receive<Subscribe>(OnSocketSubscribe);
        Receive<Subscribed>(OnSubscribed);
        Receive<Refused>(OnRefused);
        Receive<EventEnvelope>(e => OnPublished(e, e.Seq, e.Seq));
        Receive<EventsPublished>(b => OnPublished(b, b.Events[0].Seq, b.Events[^1].Seq));
        Receive<EventRange>(OnRange);
        Receive<Ended>(e => EndAll(e.Reason));
        Receive<EntityTerminated>(OnEntityTerminated);
        Receive<Unsubscribe>(u => RemoveSocket(u.Subscriber));
        Receive<RetryResubscribe>(_ => { if (_resubscribing) SendResubscribe(); });
        Receive<RetryRead>(_ => { _readFrom = 0; CatchUp(); });
        Receive<QuietCheck>(_ => CheckQuiet());
        Receive<Retire>(_ =>
        {
            _retired = true;
            if (_pending.Count == 0 && _attached.Count == 0) Context.Stop(Self);
        });
    }

    protected override void PreStart() => SyncMetrics.RelaysActive.Add(1);

    /// <remarks>
    /// Sockets and their relay do not watch each other (on the same node; a watch on both sides gave every connection
    /// actor Akka's full actor state, ~700 bytes per socket): a socket tells its relay when it stops
    /// (<see cref="Unsubscribe"/>, through the registry while its subscription is pending), and a relay that stops tells
    /// its sockets (<see cref="Stopped"/>).
    /// </remarks>
    protected override void PostStop()
    {
        foreach (var socket in _attached.Concat(_pending)) socket.Tell(Stopped.Instance, Self);
        SyncMetrics.RelaysActive.Add(-1);
    }

    /// <summary>The sockets this relay forwards to (for tests).</summary>
    public int Attached => _attached.Count;

    // ---- sockets ----

    private void OnSocketSubscribe(Subscribe s)
    {
        // Sockets on a relay make no quiet check of their own (the relay makes it for all): every Subscribe here is a
        // socket's (re)subscription, checked by the entity.
        var socket = s.Subscriber;
        if (!_attached.Contains(socket)) _pending.Add(socket);
        _region.Tell(s with { Relay = Self });
    }

    private void RemoveSocket(IActorRef socket)
    {
        var removed = _pending.Remove(socket) | _attached.Remove(socket);
        if (!removed) return;
        _region.Tell(new Unsubscribe(_id, socket, Self));
        if (_attached.Count == 0) ResetStream();
        if (_attached.Count == 0 && _pending.Count == 0) GoIdle();
    }

    /// <summary>The conversation ended every subscription (deleted), or is gone: every socket is told.</summary>
    private void EndAll(RefusalReason reason)
    {
        foreach (var socket in _attached.Concat(_pending)) socket.Tell(new Ended(_id, reason), Self);
        _attached.Clear();
        _pending.Clear();
        ResetStream();
        GoIdle();
    }

    private void GoIdle()
    {
        if (_retired) Context.Stop(Self);
        else Context.Parent.Tell(new Idle(_id));
    }

    // ---- the entity's answers ----

    private void OnSubscribed(Subscribed s)
    {
        if (Self.Equals(s.Subscriber))
        {
            OnResubscribed(s);
            return;
        }
        if (s.Subscriber is not { } socket) return;
        // A socket that left meanwhile: its Unsubscribe reaches the entity after this subscription, and undoes it.
        if (!_pending.Remove(socket) && !_attached.Contains(socket)) return;
        if (_forwarded < 0) Start(Sender, s.LastSeq);
        else if (!Sender.Equals(_entity))
        {
            // A new incarnation answered before its predecessor's termination arrived: attach every socket to it.
            Adopt(Sender);
            SendResubscribe();
        }
        Seen(s.LastSeq);
        _attached.Add(socket);
        socket.Tell(s, Self);
        CatchUp();
    }

    private void OnResubscribed(Subscribed s)
    {
        _resubscribing = false;
        Timers.Cancel("resubscribe");
        if (_forwarded < 0) return; // every socket left meanwhile
        if (!Sender.Equals(_entity)) Adopt(Sender);
        Seen(s.LastSeq);
        CatchUp();
    }

    private void OnRefused(Refused r)
    {
        if (Self.Equals(r.Subscriber))
        {
            EndAll(r.Reason); // the conversation is gone (a resubscription found it deleted)
            return;
        }
        if (r.Subscriber is not { } socket) return;
        socket.Tell(r, Self);
        if (!_pending.Remove(socket)) return;
        if (_attached.Count == 0 && _pending.Count == 0) GoIdle();
    }

    /// <summary>The first socket attached: the stream starts after its LastSeq (what it reads, it reads from the log).</summary>
    private void Start(IActorRef entity, long lastSeq)
    {
        Adopt(entity);
        _forwarded = _highestSeen = lastSeq;
        _lastActivity = System.Diagnostics.Stopwatch.GetTimestamp();
        if (_settings.QuietResync > TimeSpan.Zero) Timers.StartPeriodicTimer("quiet", new QuietCheck(), _settings.QuietResync);
    }

    private void Adopt(IActorRef entity)
    {
        if (_entity is not null) Context.Unwatch(_entity);
        _entity = entity;
        Context.WatchWith(entity, new EntityTerminated(entity));
    }

    /// <summary>No socket attached: nothing to keep contiguous. The next attachment starts a new stream.</summary>
    private void ResetStream()
    {
        if (_entity is not null) Context.Unwatch(_entity);
        _entity = null;
        _forwarded = -1;
        _highestSeen = 0;
        _readFrom = 0;
        _resubscribing = false;
        Timers.CancelAll();
    }

    private void OnEntityTerminated(EntityTerminated t)
    {
        if (!t.Entity.Equals(_entity)) return;
        // The entity passivated, moved or its node died: re-attach once for every socket, from what was forwarded.
        // Not while this node stops: its sockets are about to be closed (1012) and resume elsewhere, and a request
        // buffered in the stopping region would hold its shutdown.
        _entity = null;
        if (_forwarded >= 0 && CoordinatedShutdown.Get(Context.System).ShutdownReason is null) SendResubscribe();
    }

    private void SendResubscribe()
    {
        _resubscribing = true;
        _region.Tell(new Resubscribe(_id, Self, [.. _attached]));
        // The region buffers while a shard is homeless; retry in case the entity never answered.
        Timers.StartSingleTimer("resubscribe", new RetryResubscribe(), _settings.RequestTimeout);
    }

    /// <summary>
    /// Remoting drops what it cannot deliver (a gated link), and a lost publish is otherwise noticed only when a later one
    /// arrives — never, if it was the last. When nothing arrived for a while, ask the entity for its last seq.
    /// </summary>
    private void CheckQuiet()
    {
        if (_forwarded < 0 || _resubscribing || System.Diagnostics.Stopwatch.GetElapsedTime(_lastActivity) < _settings.QuietResync) return;
        _lastActivity = System.Diagnostics.Stopwatch.GetTimestamp();
        SendResubscribe();
    }

    // ---- the stream ----

    private void OnPublished(object message, long first, long last)
    {
        if (Sender.Path.Address.HasGlobalScope) SyncMetrics.RemotePublishesReceived.Add(1);
        _lastActivity = System.Diagnostics.Stopwatch.GetTimestamp();
        // Before the first socket is attached there is no stream: pending sockets read up to their LastSeq themselves.
        if (_forwarded < 0 || last <= _forwarded) return;
        if (first > _forwarded + 1 || _forwarded < _highestSeen)
        {
            // A gap, or a catch-up from the log in progress: this message is read from the log too, in order.
            if (first > _forwarded + 1 && _readFrom == 0)
                _log.Warning("Conversation {0}: relay gap before seq {1} after {2}; reading it from the log", _id, first, _forwarded);
            Seen(last);
            CatchUp();
            return;
        }
        Forward(message);
        _forwarded = _highestSeen = last;
    }

    private void Seen(long seq) => _highestSeen = Math.Max(_highestSeen, seq);

    /// <summary>One message per local socket, the same instance to each (a batch overlapping what was sent is dropped by seq at the socket).</summary>
    private void Forward(object message)
    {
        foreach (var socket in _attached) socket.Tell(message, Self);
    }

    /// <summary>Reads what was published but not forwarded, one chunk at a time (each chunk asks for the next).</summary>
    private void CatchUp()
    {
        if (_forwarded < 0 || _forwarded >= _highestSeen || _readFrom != 0) return;
        _readFrom = _forwarded + 1;
        _region.Tell(new ReadRange(_id, _readFrom, _highestSeen, _settings.ReplayChunk));
        Timers.StartSingleTimer("read", new RetryRead(), _settings.RequestTimeout);
    }

    private void OnRange(EventRange r)
    {
        // Only the answer to the read in flight asks for the next; a late answer to a read given up on still forwards.
        var current = _readFrom != 0 && (r.Events.Length == 0 || r.Events[0].Seq == _readFrom);
        if (current)
        {
            Timers.Cancel("read");
            _readFrom = 0;
        }
        if (_forwarded < 0) return;
        var next = new List<EventEnvelope>(r.Events.Length);
        foreach (var e in r.Events)
        {
            if (e.Seq <= _forwarded + next.Count) continue;
            if (e.Seq != _forwarded + next.Count + 1) break;
            next.Add(e);
        }
        if (next.Count > 0)
        {
            Forward(next.Count == 1 ? next[0] : new EventsPublished(_id, [.. next]));
            _forwarded += next.Count;
            Seen(_forwarded);
        }
        if (!current) return;
        if (r.Events.Length == 0 && _forwarded < _highestSeen)
        {
            // The log does not hold what was announced: a bug. Stop; each socket resubscribes from what it has.
            _log.Error("Conversation {0}: the relay's read found nothing after seq {1} (target {2}); stopping the relay", _id, _forwarded, _highestSeen);
            Context.Stop(Self);
            return;
        }
        CatchUp();
    }
}
