using System.Security.Cryptography;
using Akka.Actor;
using Akka.Event;
using Akka.Sync.Actors.Observability;
using Akka.Sync.Protocol;
using static Akka.Sync.Protocol.ConversationReplies;

namespace Akka.Sync.Actors.Following;

/// <summary>
/// Follows one upstream agent-server conversation into its conversation's log (issue 16). A child of the conversation
/// entity, so it lives, moves and restarts with it. Each connection: open the upstream socket (new events only, key in
/// the first frame) → the first frame (agent-server's <c>full_state</c>) says the subscription is in place → catch up
/// over <c>events/search</c> from the last stored event's time (inclusive, minus an overlap) while holding the socket's
/// events → then the held events, then live. Everything goes to the entity in upstream order, one batch in flight;
/// the entity skips ids it already has, so overlaps and repeats are stored once. A lost link is retried with backoff
/// from the last stored event. Users' actions (<see cref="Forward"/>) go to the upstream's REST routes.
/// </summary>
public sealed class UpstreamFollower : ReceiveActor, IWithTimers
{
    /// <summary>Upstream events for the entity's log, in upstream order (local: the follower is the entity's child).</summary>
    public sealed record Ingest(IReadOnlyList<FollowedEvent> Events);

    /// <summary>A user's action for the upstream; its answer goes to <see cref="ReplyTo"/>.</summary>
    public sealed record Forward(object Command, IActorRef ReplyTo);

    private sealed record Connect;
    private sealed record RetryIngest;
    private sealed record SubscribeTimeout(int Session);
    private sealed record Frame(int Session, byte[] Json);
    private sealed record LinkFailed(int Session, LinkFault Fault, string Detail); // the socket ended, or a search failed
    private sealed record Page(int Session, UpstreamPage Result);

    private enum Phase { Waiting, Subscribing, CatchingUp, Live }

    private readonly ConversationId _id;
    private readonly UpstreamBinding _binding;
    private readonly UpstreamSettings _settings;
    private readonly UpstreamServices _services;
    private readonly LinkStatus _status;
    private readonly ILoggingAdapter _log = Context.GetLogger();
    private readonly FollowQueue _events;
    private UpstreamClient? _client; // null while the key cannot be read
    private CancellationTokenSource? _cts;
    private Phase _phase = Phase.Waiting;
    private int _session;
    private int _attempt;
    private long _storedUntil; // upstream time of the newest stored event: where a catch-up starts
    private long? _since;      // this connection's catch-up filter
    private string? _nextPage;
    private bool _fetching;

    public ITimerScheduler Timers { get; set; } = null!;

    public UpstreamFollower(ConversationId id, UpstreamBinding binding, UpstreamServices services, LinkStatus status, long storedUntilTicks)
    {
        _id = id;
        _binding = binding;
        _services = services;
        _settings = services.Settings;
        _status = status;
        _storedUntil = storedUntilTicks;
        _events = new FollowQueue(services.Settings.BatchSize);

        Receive<Connect>(_ => OnConnect());
        Receive<Frame>(OnFrame);
        Receive<SubscribeTimeout>(t => { if (t.Session == _session && _phase == Phase.Subscribing) Lost(LinkFault.Transient, "the upstream sent nothing after the socket opened"); });
        Receive<LinkFailed>(e => { if (e.Session == _session) Lost(e.Fault, e.Detail); });
        Receive<Page>(OnPage);
        Receive<AppendResult>(OnStored);
        Receive<RetryIngest>(_ => { if (_events.InFlight is { } batch) Context.Parent.Tell(new Ingest(batch)); });
        Receive<Forward>(OnForward);
    }

    public static Props Props(ConversationId id, UpstreamBinding binding, UpstreamServices services, LinkStatus status, long storedUntilTicks) =>
        Akka.Actor.Props.Create(() => new UpstreamFollower(id, binding, services, status, storedUntilTicks));

    protected override void PreStart()
    {
        LinkStatus.Active[_status] = 0;
        OnConnect();
    }

    protected override void PostStop()
    {
        _cts?.Cancel();
        LinkStatus.Active.TryRemove(_status, out _);
    }

    // ---- connecting ----

    private void OnConnect()
    {
        if (_client is null && !TryReadKey()) return;
        _session++;
        _phase = Phase.Subscribing;
        _status.Connecting("connecting");
        _cts = new CancellationTokenSource();
        var (session, self) = (_session, Self);
        _client!.RunSocketAsync(json => self.Tell(new Frame(session, json)), _cts.Token)
            .PipeTo(self, success: r => new LinkFailed(session, r.Fault, r.Detail),
                failure: e => new LinkFailed(session, LinkFault.Transient, "the upstream socket failed: " + e.Message));
        Timers.StartSingleTimer("subscribe", new SubscribeTimeout(session), _settings.RequestTimeout * 2);
    }

    private bool TryReadKey()
    {
        try
        {
            _client = new UpstreamClient(_services.Http, _settings, _binding.Url, _binding.ConversationId, _services.Keys.KeyFor(_binding));
            return true;
        }
        catch (CryptographicException)
        {
            _status.Down("key_unavailable", "the stored upstream session key cannot be decrypted with this node's key ring");
            _log.Warning("Conversation {0}: its upstream session key cannot be decrypted with this node's key ring (Upstream:KeyRingDirectory); retrying in {1}", _id, _settings.MaxBackoff);
            Timers.StartSingleTimer("connect", new Connect(), _settings.MaxBackoff);
            return false;
        }
    }

    private void OnFrame(Frame f)
    {
        if (f.Session != _session) return;
        var kind = UpstreamEvents.Classify(f.Json, out var e, out var error);
        // The first frame (agent-server and this server send full_state at once) means the subscription is in place:
        // from here on nothing new is missed, so the catch-up can read up to "now".
        if (_phase == Phase.Subscribing) StartCatchUp();
        if (kind == UpstreamFrameKind.Invalid)
            _log.Warning("Conversation {0}: skipped an upstream frame that is not an event ({1})", _id, error);
        if (kind != UpstreamFrameKind.Event) return;
        _events.FromSocket(e!);
        if (_events.Pending > _settings.MaxPending)
            Lost(LinkFault.Transient, $"more than {_settings.MaxPending} upstream events waiting; reading on over REST");
        else Pump();
    }

    // ---- catching up ----

    private void StartCatchUp()
    {
        Timers.Cancel("subscribe");
        _phase = Phase.CatchingUp;
        _since = _storedUntil == 0 ? null : _storedUntil - _settings.ResumeOverlap.Ticks;
        _status.Subscribed("catching_up");
        Fetch(null);
    }

    private void Fetch(string? pageId)
    {
        _fetching = true;
        var session = _session;
        _client!.SearchAsync(_since, pageId, _cts!.Token).PipeTo(Self, success: p => new Page(session, p),
            failure: e => new LinkFailed(session, (e as UpstreamException)?.Fault ?? LinkFault.Transient, e.Message));
    }

    private void OnPage(Page p)
    {
        if (p.Session != _session) return;
        _fetching = false;
        if (p.Result.Skipped > 0)
            _log.Warning("Conversation {0}: skipped {1} upstream search items that are not events", _id, p.Result.Skipped);
        _events.FromCatchUp(p.Result.Items);
        _nextPage = p.Result.NextPageId;
        if (_nextPage is null) GoLive();
        Pump();
        FetchMore();
    }

    /// <summary>The next page once most of this one is stored: memory stays bounded however long the upstream log.</summary>
    private void FetchMore()
    {
        if (_phase == Phase.CatchingUp && !_fetching && _nextPage is not null && _events.Queued < UpstreamClient.PageSize) Fetch(_nextPage);
    }

    private void GoLive()
    {
        _phase = Phase.Live;
        _events.CaughtUp();
        _attempt = 0;
        _status.Subscribed("live");
        _log.Info("Conversation {0} follows its upstream conversation {1} live", _id, _binding.ConversationId);
    }

    // ---- storing ----

    private void Pump()
    {
        if (_events.NextBatch() is { } batch) Context.Parent.Tell(new Ingest(batch));
        _status.Pending(_events.Pending);
    }

    private void OnStored(AppendResult r)
    {
        if (_events.InFlight is null) return;
        switch (r.Code)
        {
            case ResultCode.Ok:
                var batch = _events.Stored();
                _storedUntil = Math.Max(_storedUntil, batch.Max(e => e.TimestampTicks ?? 0));
                _status.Stored(r.Items.Length, r.Items.Length > 0 ? r.Items[^1].Id : null);
                SyncMetrics.UpstreamEvents.Add(r.Items.Length);
                Pump();
                FetchMore();
                return;
            case ResultCode.NotFound or ResultCode.Conflict:
                Context.Stop(Self); // deleted, or no longer bound: the entity stops following
                return;
            default:
                // The journal failed: nothing of the batch is stored; the same batch again (its ids make it safe).
                Timers.StartSingleTimer("ingest", new RetryIngest(), _settings.MinBackoff);
                return;
        }
    }

    // ---- a lost link ----

    private void Lost(LinkFault fault, string detail)
    {
        _cts?.Cancel(); // not disposed: the old connection's calls may still look at its token
        _cts = null;
        _session++; // whatever the old connection still sends is ignored
        _phase = Phase.Waiting;
        _events.Reset(); // read again after the last stored event
        _nextPage = null;
        _fetching = false;
        Timers.Cancel("subscribe");
        var state = fault switch { LinkFault.Unauthorized => "unauthorized", LinkFault.NotFound => "not_found", _ => "backoff" };
        var delay = fault == LinkFault.Transient ? Backoff(_attempt++) : _settings.MaxBackoff;
        _status.Down(state, detail);
        _status.Pending(_events.Pending);
        SyncMetrics.UpstreamReconnects.Add(1);
        if (fault == LinkFault.Transient) _log.Info("Conversation {0}: upstream link lost ({1}); reconnecting in {2}", _id, detail, delay);
        else _log.Warning("Conversation {0}: upstream link {1} ({2}); retrying in {3}", _id, state, detail, delay);
        Timers.StartSingleTimer("connect", new Connect(), delay);
    }

    private TimeSpan Backoff(int attempt) =>
        TimeSpan.FromTicks(Math.Min(_settings.MaxBackoff.Ticks, _settings.MinBackoff.Ticks * (1L << Math.Min(attempt, 20))));

    // ---- users' actions ----

    private void OnForward(Forward f)
    {
        if (_client is null)
            f.ReplyTo.Tell(new CommandResult(ResultCode.BadGateway, "the upstream session key cannot be decrypted on this node"));
        else
            _client.ForwardAsync(f.Command).PipeTo(f.ReplyTo);
    }
}
