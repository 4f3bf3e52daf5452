using Akka.Sync.Protocol;
using static Akka.Sync.Protocol.ConversationQueries;

namespace Akka.Sync.Actors.Conversations;

/// <summary>One log entry's metadata: enough to filter, page and find it in the journal.</summary>
public readonly record struct IndexEntry(long Seq, long JournalSeqNr, string Id, string Kind, string Source, long TimestampTicks);

/// <summary>
/// The conversation's whole log as metadata (no bodies), in seq order: event-id lookups for
/// idempotency and <c>after_event_id</c>, timestamp lookups for <c>after_timestamp</c>, and the
/// filters and pages of REST search. Bodies live in <see cref="EventTail"/> and the journal.
/// </summary>
public sealed class EventIndex
{
    private readonly List<IndexEntry> _entries = [];
    private readonly Dictionary<string, long> _seqById = new(StringComparer.Ordinal);

    public int Count => _entries.Count;

    public IReadOnlyList<IndexEntry> Entries => _entries;

    public void Add(IndexEntry entry)
    {
        if (_entries.Count > 0 && entry.Seq != _entries[^1].Seq + 1)
            throw new InvalidOperationException($"index gap: {entry.Seq} after {_entries[^1].Seq}");
        _entries.Add(entry);
        _seqById[entry.Id] = entry.Seq;
    }

    public void Load(IEnumerable<IndexEntry> entries)
    {
        _entries.Clear();
        _seqById.Clear();
        foreach (var e in entries) Add(e);
    }

    public long? SeqOf(string eventId) => _seqById.TryGetValue(eventId, out var s) ? s : null;

    /// <summary>The entry with this seq (seqs are contiguous from 1).</summary>
    public IndexEntry At(long seq) => _entries[(int)(seq - 1)];

    /// <summary>The last seq whose timestamp is before <paramref name="ticks"/> (0 when none).</summary>
    public long LastSeqBefore(long ticks)
    {
        int lo = 0, hi = _entries.Count; // first index with ts >= ticks
        while (lo < hi)
        {
            var mid = (lo + hi) / 2;
            if (_entries[mid].TimestampTicks < ticks) lo = mid + 1; else hi = mid;
        }
        return lo; // entries [0, lo) are before: their last seq is lo
    }

    public static bool Matches(in IndexEntry e, EventFilter f) =>
        (f.Kind is null || KindMatches(e.Kind, f.Kind))
        && (f.Source is null || e.Source == f.Source)
        && (f.TimestampGteTicks is null || e.TimestampTicks >= f.TimestampGteTicks)
        && (f.TimestampLtTicks is null || e.TimestampTicks < f.TimestampLtTicks);

    /// <summary>
    /// <c>kind</c> takes the plain class name (<c>MessageEvent</c>) or OpenHands' fully qualified path
    /// (<c>openhands.sdk.event.llm_convertible.message.MessageEvent</c>).
    /// </summary>
    public static bool KindMatches(string kind, string filter)
    {
        var dot = filter.LastIndexOf('.');
        return string.Equals(kind, dot < 0 ? filter : filter[(dot + 1)..], StringComparison.Ordinal);
    }

    public long CountMatching(EventFilter filter)
    {
        if (filter == EventFilter.None) return _entries.Count;
        long n = 0;
        foreach (var e in _entries)
            if (Matches(e, filter)) n++;
        return n;
    }

    /// <summary>
    /// One page of matches. <paramref name="pageId"/> is the id of the page's first item (as returned in
    /// <c>next_page_id</c>); the result's next page id is the id of the first match after this page.
    /// </summary>
    public (List<IndexEntry> Items, string? NextPageId, bool UnknownPage) Page(
        EventFilter filter, string? pageId, int limit, bool descending)
    {
        var items = new List<IndexEntry>(Math.Min(limit, _entries.Count));
        int start;
        if (pageId is null) start = descending ? _entries.Count - 1 : 0;
        else if (SeqOf(pageId) is { } seq) start = (int)(seq - 1);
        else return (items, null, true);
        var step = descending ? -1 : 1;
        for (var i = start; i >= 0 && i < _entries.Count; i += step)
        {
            var e = _entries[i];
            if (!Matches(e, filter)) continue;
            if (items.Count == limit) return (items, e.Id, false);
            items.Add(e);
        }
        return (items, null, false);
    }
}
