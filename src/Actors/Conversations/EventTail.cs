using Akka.Sync.Protocol;
using static Akka.Sync.Protocol.ConversationQueries;

namespace Akka.Sync.Actors.Conversations;

/// <summary>
/// The most recent events with their bytes (a ring), for replay without touching the journal. The ring starts small and
/// doubles up to <c>capacity</c> as events come, so a short conversation does not hold a full-size ring.
/// </summary>
public sealed class EventTail(int capacity)
{
    private const int FirstSize = 32;
    private readonly int _capacity = Math.Max(capacity, 0);
    private EventEnvelope?[] _ring = new EventEnvelope?[Math.Min(Math.Max(capacity, 0), FirstSize)];
    private long _first = 1; // seq of the oldest held event
    private long _next = 1;  // seq the next added event must have

    public int Count => (int)(_next - _first);

    public long FirstSeq => Count == 0 ? long.MaxValue : _first;

    public void Add(EventEnvelope e)
    {
        if (_ring.Length == 0) return;
        if (Count > 0 && e.Seq != _next) throw new InvalidOperationException($"tail gap: {e.Seq} after {_next - 1}");
        if (Count == 0) _first = e.Seq;
        if (Count == _ring.Length && _ring.Length < _capacity) Grow(Math.Min(_ring.Length * 2, _capacity));
        _ring[e.Seq % _ring.Length] = e;
        _next = e.Seq + 1;
        if (Count > _ring.Length) _first = _next - _ring.Length;
    }

    private void Grow(int size)
    {
        var ring = new EventEnvelope?[size];
        for (var s = _first; s < _next; s++) ring[s % size] = _ring[s % _ring.Length];
        _ring = ring;
    }

    public bool Covers(long fromSeq) => Count > 0 && fromSeq >= _first && fromSeq < _next;

    public EventEnvelope[] Range(long fromSeq, long toSeq, int max)
    {
        if (!Covers(fromSeq)) return [];
        var last = Math.Min(Math.Min(toSeq, _next - 1), fromSeq + max - 1);
        var result = new EventEnvelope[Math.Max(0, last - fromSeq + 1)];
        for (var s = fromSeq; s <= last; s++) result[s - fromSeq] = _ring[s % _ring.Length]!;
        return result;
    }

    public EventEnvelope? Get(long seq) => Covers(seq) ? _ring[seq % _ring.Length] : null;
}
