using Akka.Sync.Actors.Connections;
using Akka.Sync.Protocol;

namespace Akka.Sync.Actors.Tests.Support;

/// <summary>
/// An <see cref="IClientSink"/> that records, in order, every frame a connection actor writes. It models the socket's
/// bounded outbound queue: events count against <see cref="Capacity"/> until the test <see cref="Drain"/>s them, and an
/// event offered to a full queue is refused, as the real transport refuses it. Thread-safe: the actor writes, the test reads.
/// </summary>
public sealed class RecordingSink(int capacity = int.MaxValue) : IClientSink
{
    public abstract record Frame;
    public sealed record FullStateFrame(byte[] Json) : Frame;
    public sealed record EventFrame(EventEnvelope Event, bool Replay) : Frame;
    public sealed record ReplayCompletedFrame : Frame;
    public sealed record ErrorFrame(string Code, string Detail) : Frame;
    public sealed record AckFrame(long AckId, string? Error) : Frame;

    private readonly object _gate = new();
    private readonly List<Frame> _frames = [];
    private int _capacity = capacity;
    private int _queued;
    private int _refused;
    private (int Code, string Reason)? _closed;
    private int _closes;
    private TaskCompletionSource? _roomWaiter;

    /// <summary>Every frame written, in the order the actor wrote it.</summary>
    public Frame[] Frames { get { lock (_gate) return [.. _frames]; } }

    public EventEnvelope[] Events => Frames.OfType<EventFrame>().Select(f => f.Event).ToArray();

    public long[] Seqs => Events.Select(e => e.Seq).ToArray();

    public int FullStates => Frames.Count(f => f is FullStateFrame);

    public int ReplaysCompleted => Frames.Count(f => f is ReplayCompletedFrame);

    public (string Code, string Detail)[] Errors => Frames.OfType<ErrorFrame>().Select(f => (f.Code, f.Detail)).ToArray();

    /// <summary>How many events were offered to a full queue and refused.</summary>
    public int Refused { get { lock (_gate) return _refused; } }

    /// <summary>The close code and reason, once closed.</summary>
    public (int Code, string Reason)? Closed { get { lock (_gate) return _closed; } }

    /// <summary>How many times Close was called (a socket is closed once).</summary>
    public int Closes { get { lock (_gate) return _closes; } }

    public int Capacity
    {
        get { lock (_gate) return _capacity; }
        set
        {
            lock (_gate) _capacity = value;
            ReleaseIfRoom();
        }
    }

    /// <summary>The socket sent everything queued: the queue is empty again.</summary>
    public void Drain()
    {
        lock (_gate) _queued = 0;
        ReleaseIfRoom();
    }

    public void WriteFullState(byte[] fullState)
    {
        lock (_gate) _frames.Add(new FullStateFrame(fullState));
    }

    public bool TryWriteEvent(EventEnvelope e, bool replay)
    {
        lock (_gate)
        {
            if (_queued >= _capacity)
            {
                _refused++;
                return false;
            }
            _queued++;
            _frames.Add(new EventFrame(e, replay));
            return true;
        }
    }

    public void ReplayCompleted()
    {
        lock (_gate) _frames.Add(new ReplayCompletedFrame());
    }

    public void WriteError(string code, string detail)
    {
        lock (_gate) _frames.Add(new ErrorFrame(code, detail));
    }

    public void Acknowledge(long ackId, string? error)
    {
        lock (_gate) _frames.Add(new AckFrame(ackId, error));
    }

    public (long AckId, string? Error)[] Acks => Frames.OfType<AckFrame>().Select(f => (f.AckId, f.Error)).ToArray();

    public bool HasRoomForReplay { get { lock (_gate) return _queued < _capacity || _closed is not null; } }

    public Task WhenRoomForReplay()
    {
        lock (_gate)
        {
            if (_queued < _capacity || _closed is not null) return Task.CompletedTask;
            _roomWaiter ??= new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            return _roomWaiter.Task;
        }
    }

    public void Close(int code, string reason)
    {
        lock (_gate)
        {
            _closes++;
            _closed ??= (code, reason);
        }
        ReleaseIfRoom();
    }

    private void ReleaseIfRoom()
    {
        TaskCompletionSource? waiter;
        lock (_gate)
        {
            if (_queued >= _capacity && _closed is null) return;
            waiter = _roomWaiter;
            _roomWaiter = null;
        }
        waiter?.TrySetResult();
    }
}
