using System.Threading.Tasks.Sources;

namespace Akka.Sync.Gateway.Transport;

/// <summary>
/// The queue between a socket's writers (its connection actor, its session) and its one send pump: many writers, one
/// reader, unbounded here (<see cref="WebSocketTransport"/> bounds it in frames and bytes before writing).
/// </summary>
/// <remarks>
/// One per socket, so an idle one must be small: an unbounded <c>Channel</c> held a 32-slot segment and two reader
/// operation objects from the start (~1.5 KB per socket; bench/NOTES.md, "100k sockets"). This is a
/// <see cref="Queue{T}"/> that starts empty and gives back what a burst grew once it is drained again, under one lock,
/// and a reusable wait for the reader (no allocation per wait). The reader continues on the thread pool, except after
/// an item written <c>inline</c> (<see cref="WebSocketTransport.TryEnqueueBounded"/>: see there why).
/// </remarks>
internal sealed class SendQueue<T> : IValueTaskSource<bool>
{
    /// <summary>Past this many slots, a drained queue gives its array back.</summary>
    private const int KeepCapacity = 16;
    private readonly Queue<T> _items = new();
    private ManualResetValueTaskSourceCore<bool> _waiter = new() { RunContinuationsAsynchronously = true };
    private bool _waiting;
    private bool _completed;
    private int _peak;

    /// <summary>
    /// Queues an item; false once the queue is completed. With <paramref name="inline"/>, a reader waiting for it
    /// continues on this thread, within this call, until its next wait that does not complete at once; otherwise it
    /// continues on the thread pool.
    /// </summary>
    public bool TryWrite(T item, bool inline = false)
    {
        lock (_items)
        {
            if (_completed) return false;
            _items.Enqueue(item);
            if (_items.Count > _peak) _peak = _items.Count;
            if (!_waiting) return true;
            _waiting = false;
        }
        // Only the writer that found the reader waiting gets here, once per wait: the flag is this wake-up's alone.
        _waiter.RunContinuationsAsynchronously = !inline;
        _waiter.SetResult(true);
        return true;
    }

    /// <summary>No more items: the reader gets what is queued, then false.</summary>
    public void Complete()
    {
        lock (_items)
        {
            if (_completed) return;
            _completed = true;
            if (!_waiting) return;
            _waiting = false;
        }
        _waiter.RunContinuationsAsynchronously = true;
        _waiter.SetResult(false);
    }

    public bool TryRead(out T item)
    {
        lock (_items)
        {
            if (!_items.TryDequeue(out item!)) return false;
            if (_items.Count == 0 && _peak > KeepCapacity)
            {
                _items.TrimExcess();
                _peak = 0;
            }
            return true;
        }
    }

    /// <summary>True when an item can be read, false when the queue is completed and empty. One reader at a time.</summary>
    public ValueTask<bool> WaitToReadAsync()
    {
        lock (_items)
        {
            if (_items.Count > 0) return new ValueTask<bool>(true);
            if (_completed) return new ValueTask<bool>(false);
            _waiter.Reset();
            _waiting = true;
            _parked = false;
            return new ValueTask<bool>(this, _waiter.Version);
        }
    }

    /// <summary>
    /// Whether the reader waits with its continuation registered, so a write now wakes it (inline or on the pool) rather
    /// than its own await finding the item (for tests).
    /// </summary>
    internal bool IsReaderParked => Volatile.Read(ref _parked);

    private bool _parked;

    bool IValueTaskSource<bool>.GetResult(short token) => _waiter.GetResult(token);
    ValueTaskSourceStatus IValueTaskSource<bool>.GetStatus(short token) => _waiter.GetStatus(token);
    void IValueTaskSource<bool>.OnCompleted(Action<object?> continuation, object? state, short token, ValueTaskSourceOnCompletedFlags flags)
    {
        _waiter.OnCompleted(continuation, state, token, flags);
        Volatile.Write(ref _parked, true);
    }
}
