using System.Net.WebSockets;
using Akka.Sync.Actors.Observability;
using Akka.Sync.Gateway.Settings;
using Akka.Sync.Protocol;

namespace Akka.Sync.Gateway.Transport;

/// <summary>
/// The outbound side of one socket, whatever its dialect: a queue bounded in frames and bytes, drained by an
/// async pump (one loop per socket reading the channel) that writes one text message per frame. Event frames are bounded (a full queue is a slow
/// consumer: the caller closes with 1013, queued frames are dropped, the close frame goes next and the client
/// resumes from its last event); control frames (state, errors, pings) always go. Nothing is dropped silently.
/// Nothing here knows a dialect: the sessions (src/Gateway/Sessions) queue what their codec encoded.
/// </summary>
public sealed class WebSocketTransport
{
    private readonly record struct Outbound(byte[]? Frame, int CloseCode, string? CloseReason);

    private readonly WebSocket _socket;
    private readonly LimitSettings _limits;
    private readonly SendQueue<Outbound> _queue = new();
    /// <summary>The close's deadline (<c>Limits:CloseTimeout</c>), made when the close is queued; null until then.</summary>
    private CancellationTokenSource? _closeDeadline;
    private readonly object _gate = new();
    private TaskCompletionSource? _roomWaiter;
    private int _frames;
    private long _bytes;
    private int _closing;
    private volatile bool _dropQueued;
    private volatile bool _refused;

    private readonly KeyValuePair<string, object?> _dialectTag;

    public WebSocketTransport(WebSocket socket, LimitSettings limits, string dialect = "v1")
    {
        _socket = socket;
        _limits = limits;
        _dialectTag = new KeyValuePair<string, object?>("dialect", dialect);
    }

    /// <summary>Completes when the pump has stopped (close sent, socket gone, or shut down).</summary>
    public Task Completion { get; private set; } = Task.CompletedTask;

    /// <summary>Frames written to the socket (only the pump counts them).</summary>
    public long FramesSent => Volatile.Read(ref _framesSent);

    private long _framesSent;

    public (int Code, string Reason)? ClosedWith { get; private set; }

    public bool IsClosing => Volatile.Read(ref _closing) != 0;

    /// <summary>
    /// Starts the pump. A plain loop over the channel, not an Akka.Streams graph: a materialised graph per socket cost
    /// ~30 KB and an actor hop per frame (docs/benchmarks.md, "fan-out" and "idle sockets").
    /// </summary>
    /// <remarks>
    /// The pump is started by a plain call, not <c>Task.Run</c> (whose <c>Task&lt;Task&gt;</c>, unwrap promise and delegate
    /// stayed alive per socket, ~200 bytes), and tells <paramref name="ended"/> when it stops instead of a
    /// <c>ContinueWith</c> per watcher (~200 bytes each); it starts on an empty queue, so the call returns at its first wait.
    /// </remarks>
    public void Start(Action<WebSocketTransport>? ended = null)
    {
        _ended = ended;
        Completion = PumpAsync();
    }

    private Action<WebSocketTransport>? _ended;

    private async Task PumpAsync()
    {
        try
        {
            while (await _queue.WaitToReadAsync().ConfigureAwait(false))
            {
                while (_queue.TryRead(out var item))
                    await SendAsync(item).ConfigureAwait(false);
            }
        }
        finally
        {
            Volatile.Read(ref _closeDeadline)?.Dispose();
            ReportFramesSent();
            _ended?.Invoke(this);
        }
    }

    private long _framesReported;

    /// <summary>
    /// Adds the frames sent since the last report to <c>akka_sync_frames_sent_total</c>: from the node's once-a-second
    /// sweep (<see cref="SendDeadlines"/>), before a close frame and when the pump stops — not per frame nor per burst.
    /// An idle socket's pump sends each frame as it is queued (a burst of one), and the counter's <c>Add</c> with a tag
    /// (an aggregator lookup and an update of a point every socket shares) was ~3.6 % of a fan-out's CPU
    /// (bench/NOTES.md, "Issue 15, eleventh sitting"). Safe from any thread: each frame is counted once.
    /// </summary>
    public void ReportFramesSent()
    {
        var sent = Volatile.Read(ref _framesSent);
        while (true)
        {
            var reported = Volatile.Read(ref _framesReported);
            if (sent <= reported) return;
            if (Interlocked.CompareExchange(ref _framesReported, sent, reported) != reported) continue;
            SyncMetrics.FramesSent.Add(sent - reported, _dialectTag);
            return;
        }
    }

    /// <summary>
    /// What a frame counts against <c>Limits:MaxQueuedBytes</c>: its length, but at most half the bound. An event
    /// may be larger than the bound (a REST body may be 16 MiB); counted whole it would make every socket it reaches
    /// a slow consumer as soon as anything followed it (a batch of [large, small] would close every live socket).
    /// Counted at half, a client falls behind only when two such events or the bound's worth of others wait.
    /// </summary>
    private long Cost(byte[] frame) => Math.Min(frame.Length, Math.Max(1, _limits.MaxQueuedBytes / 2));

    /// <summary>
    /// Queues an event frame within the bounds; false when the queue is full (a slow consumer). An empty queue takes
    /// any frame, so no single event is refused forever. After a refusal <see cref="HasRoomForReplay"/> stays false
    /// until the queue is empty again.
    /// </summary>
    public bool TryEnqueueBounded(byte[] frame)
    {
        if (IsClosing) return true;
        var frames = Interlocked.Increment(ref _frames);
        var bytes = Interlocked.Add(ref _bytes, Cost(frame));
        if (frames > 1 && (frames > _limits.MaxQueuedFrames || bytes > _limits.MaxQueuedBytes))
        {
            Interlocked.Decrement(ref _frames);
            Interlocked.Add(ref _bytes, -Cost(frame));
            _refused = true;
            return false;
        }
        _refused = false;
        // An idle pump sends the frame on this thread, now, rather than being woken on the thread pool: a work item and
        // often a thread wake-up per socket per burst (bench/NOTES.md, "Issue 15, tenth sitting"). A send into
        // Kestrel's output pipe completes at once unless the pipe is full; then the pump goes on asynchronously and
        // this call returns. A busy pump takes the frame when it gets to it, as before. Closes still wake it on the
        // thread pool (the drain closes every socket from one loop).
        _queue.TryWrite(new Outbound(frame, 0, null), inline: true);
        return true;
    }

    /// <summary>
    /// Queues a frame the session sends on its own (state, error, pong, ack, connect answer) under the same bounds as
    /// events: every queued byte counts (CONTRACT §3). A client that makes the server answer (bad frames, pings) but never
    /// reads fills its queue like one that does not keep up with events, and is closed the same way, 1013.
    /// </summary>
    public void Enqueue(byte[] frame)
    {
        if (IsClosing || TryEnqueueBounded(frame)) return;
        SyncMetrics.SlowConsumerCloses.Add(1);
        Close(CloseCodes.TryAgainLater, "slow consumer");
    }

    /// <summary>
    /// Sends begun plus sends ended: odd while a send is in progress. The pump bumps it around each send; the sweep
    /// (<see cref="AbortIfSendStuck"/>) times a send by seeing the same odd value again. No clock read per send: two per
    /// frame were ~2.5 % of a fan-out's CPU (bench/NOTES.md, "Issue 15, eleventh sitting").
    /// </summary>
    private long _sends;

    /// <summary>The sweep's own: the odd <see cref="_sends"/> it last saw, and when it first saw it (Stopwatch ticks).</summary>
    private long _sweptSends, _sweptSince;

    private void SendBegins() => Volatile.Write(ref _sends, _sends + 1);

    private void SendEnds() => Volatile.Write(ref _sends, _sends + 1);

    /// <summary>
    /// Aborts the socket when one send has taken longer than <c>Limits:SendTimeout</c>: its peer stopped reading and its
    /// TCP window is full, so nothing queued will ever go and the socket, its pump and its actor would be held until
    /// the close timeout. Called by <see cref="SendDeadlines"/> once a second (one caller at a time), which first sees a
    /// send in progress within a second of its start: a stuck send is aborted between <c>SendTimeout</c> and
    /// <c>SendTimeout</c> plus two seconds after it began. True when it aborted.
    /// </summary>
    public bool AbortIfSendStuck(long nowTicks)
    {
        var sends = Volatile.Read(ref _sends);
        if ((sends & 1) == 0) return false; // no send in progress
        if (sends != _sweptSends)
        {
            _sweptSends = sends; // a send this sweep sees for the first time
            _sweptSince = nowTicks;
            return false;
        }
        if (System.Diagnostics.Stopwatch.GetElapsedTime(_sweptSince, nowTicks) < _limits.SendTimeout) return false;
        SendTimedOut = true;
        _socket.Abort();
        return true;
    }

    /// <summary>The socket was aborted because a send missed its deadline.</summary>
    public bool SendTimedOut { get; private set; }

    /// <summary>
    /// Room for more replay: the queue is below half its bounds, or, once a frame was refused, empty (the refused frame
    /// may be larger than half the bound; an empty queue always takes it, so waiting for empty always ends in progress).
    /// </summary>
    public bool HasRoomForReplay
    {
        get
        {
            var frames = Volatile.Read(ref _frames);
            if (frames <= 0) return true;
            return !_refused && frames < _limits.MaxQueuedFrames / 2 && Interlocked.Read(ref _bytes) < _limits.MaxQueuedBytes / 2;
        }
    }

    public Task WhenRoomForReplay()
    {
        Task task;
        lock (_gate)
        {
            if (HasRoomForReplay || IsClosing) return Task.CompletedTask;
            _roomWaiter ??= new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            task = _roomWaiter.Task;
        }
        // The pump may have drained between the check and the waiter's creation: look again so no wake-up is lost.
        if (HasRoomForReplay || IsClosing) ReleaseRoomWaiter();
        return task;
    }

    public void Close(int code, string reason)
    {
        if (Interlocked.Exchange(ref _closing, 1) != 0) return;
        ClosedWith = (code, reason);
        // A slow consumer gets its close frame next, not after the backlog it cannot read.
        if (code == CloseCodes.TryAgainLater) _dropQueued = true;
        // The frames still queued and the close frame must go within the close timeout: past it the socket is aborted,
        // which fails the send in progress (frames are sent without a token: see SendAsync).
        var deadline = new CancellationTokenSource();
        deadline.Token.UnsafeRegister(static s => ((WebSocket)s!).Abort(), _socket);
        deadline.CancelAfter(_limits.CloseTimeout);
        Volatile.Write(ref _closeDeadline, deadline); // the pump disposes it when it stops
        _queue.TryWrite(new Outbound(null, code, reason));
        ReleaseRoomWaiter();
    }

    /// <summary>Stops the pump without a close frame (the client already went away).</summary>
    public void Shutdown()
    {
        Interlocked.Exchange(ref _closing, 1);
        _dropQueued = true;
        _queue.Complete();
        ReleaseRoomWaiter();
    }

    private async Task SendAsync(Outbound item)
    {
        try
        {
            if (item.Frame is { } frame)
            {
                Interlocked.Decrement(ref _frames);
                Interlocked.Add(ref _bytes, -Cost(frame));
                if (!_dropQueued && _socket.State == WebSocketState.Open)
                {
                    SendBegins();
                    // No token: with a cancellable one, ManagedWebSocket takes its fallback path on every send (an async
                    // state machine and a token registration per frame); without, a send that completes at once costs
                    // neither. A send that never completes ends by aborting the socket (the send deadline, the close
                    // timeout), which is what the token's registration did.
                    await _socket.SendAsync(frame, WebSocketMessageType.Text, endOfMessage: true, CancellationToken.None);
                    SendEnds();
                    Volatile.Write(ref _framesSent, _framesSent + 1);
                }
                if (_roomWaiter is not null && HasRoomForReplay) ReleaseRoomWaiter();
            }
            else
            {
                _queue.Complete();
                ReportFramesSent(); // counted before the client can see the close
                if (_socket.State is WebSocketState.Open or WebSocketState.CloseReceived)
                {
                    SendBegins();
                    await _socket.CloseOutputAsync((WebSocketCloseStatus)item.CloseCode, item.CloseReason, Volatile.Read(ref _closeDeadline)?.Token ?? CancellationToken.None);
                    SendEnds();
                    // A client that never answers the close must not hold the connection forever.
                    _ = Task.Delay(_limits.CloseTimeout).ContinueWith(_ =>
                    {
                        if (_socket.State != WebSocketState.Closed) _socket.Abort();
                    }, TaskScheduler.Default);
                }
            }
        }
        catch (Exception e) when (e is WebSocketException or OperationCanceledException or ObjectDisposedException)
        {
            // The socket is gone or was aborted for not draining: nothing more can be sent.
            if ((Volatile.Read(ref _sends) & 1) != 0) SendEnds();
            _dropQueued = true;
            _queue.Complete();
            if (_socket.State != WebSocketState.Closed) _socket.Abort();
        }
    }

    private void ReleaseRoomWaiter()
    {
        TaskCompletionSource? waiter;
        lock (_gate)
        {
            waiter = _roomWaiter;
            _roomWaiter = null;
        }
        waiter?.TrySetResult();
    }
}
