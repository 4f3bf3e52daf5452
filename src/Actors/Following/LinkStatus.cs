using System.Collections.Concurrent;
using Akka.Sync.Protocol;

namespace Akka.Sync.Actors.Following;

/// <summary>
/// The live status of one follower's link, written by the follower and read by its conversation (for
/// <c>GET /api/conversations/{id}</c>) and by the metrics scrape, on other threads: every access takes the lock.
/// Registered in <see cref="Active"/> while its follower runs.
/// </summary>
public sealed class LinkStatus
{
    /// <summary>The links of the followers running on this node (the <c>/metrics</c> gauges sum them).</summary>
    public static readonly ConcurrentDictionary<LinkStatus, byte> Active = new();

    private readonly object _gate = new();
    private readonly TimeProvider _clock;
    private string _state = "connecting";
    private bool _connected;
    private int _pending;
    private long _pendingSince; // when the backlog last went from empty to not empty
    private long _downSince;    // when the link was last live (or started)
    private long _reconnects;
    private long _followed;
    private string? _lastEventId;
    private string? _lastError;

    public LinkStatus(TimeProvider? clock = null)
    {
        _clock = clock ?? TimeProvider.System;
        _downSince = _clock.GetTimestamp();
    }

    public void Connecting(string state)
    {
        lock (_gate) _state = state;
    }

    /// <summary>The socket is subscribed; the link is <paramref name="state"/> (catching up, then live).</summary>
    public void Subscribed(string state)
    {
        lock (_gate)
        {
            _state = state;
            _connected = true;
            if (state == "live") _lastError = null;
        }
    }

    public void Down(string state, string error)
    {
        lock (_gate)
        {
            if (_connected) _downSince = _clock.GetTimestamp();
            _state = state;
            _connected = false;
            _lastError = error;
            _reconnects++;
        }
    }

    /// <summary>Events received and not yet stored.</summary>
    public void Pending(int count)
    {
        lock (_gate)
        {
            if (_pending == 0 && count > 0) _pendingSince = _clock.GetTimestamp();
            _pending = count;
        }
    }

    public void Stored(int count, string? lastEventId)
    {
        lock (_gate)
        {
            _followed += count;
            _lastEventId = lastEventId ?? _lastEventId;
        }
    }

    public bool IsConnected
    {
        get { lock (_gate) return _connected; }
    }

    public long LagEvents
    {
        get { lock (_gate) return _pending; }
    }

    /// <summary>How long the backlog has waited (0 when there is none); while not live, how long since the link was.</summary>
    public double LagSeconds
    {
        get
        {
            lock (_gate)
            {
                if (_state != "live") return _clock.GetElapsedTime(_downSince).TotalSeconds;
                return _pending == 0 ? 0 : _clock.GetElapsedTime(_pendingSince).TotalSeconds;
            }
        }
    }

    public UpstreamLinkStatus Snapshot()
    {
        var lag = LagSeconds;
        lock (_gate) return new UpstreamLinkStatus(_state, _connected, _pending, lag, _reconnects, _followed, _lastEventId, _lastError);
    }
}
