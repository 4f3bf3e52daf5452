using System.Collections.Concurrent;
using Akka.Sync.Actors.Connections;
using Akka.Sync.Protocol;

namespace Akka.Sync.Actors.Tests.Support;

/// <summary>An <see cref="IClientSink"/> that records what a connection actor writes; "full" when told so.</summary>
public sealed class RecordingSink : IClientSink
{
    private readonly ConcurrentQueue<EventEnvelope> _events = new();
    private readonly ConcurrentQueue<(string Code, string Detail)> _errors = new();
    private volatile bool _refuse;

    public int FullStates;
    public (int Code, string Reason)? Closed { get; private set; }
    public IReadOnlyCollection<EventEnvelope> Events => _events;
    public IReadOnlyCollection<(string Code, string Detail)> Errors => _errors;
    public long[] Seqs => _events.Select(e => e.Seq).ToArray();

    /// <summary>From now on every event is refused, as by a full queue.</summary>
    public void Fill() => _refuse = true;

    public void WriteFullState(byte[] fullState) => Interlocked.Increment(ref FullStates);

    public bool TryWriteEvent(EventEnvelope e, bool replay)
    {
        if (_refuse) return false;
        _events.Enqueue(e);
        return true;
    }

    public int ReplaysCompleted;
    public void ReplayCompleted() => Interlocked.Increment(ref ReplaysCompleted);

    public void WriteError(string code, string detail) => _errors.Enqueue((code, detail));
    public bool HasRoomForReplay => !_refuse;
    public Task WhenRoomForReplay() => Task.CompletedTask;
    public void Close(int code, string reason) => Closed = (code, reason);
}
