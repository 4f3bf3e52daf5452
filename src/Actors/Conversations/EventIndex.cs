using System.Globalization;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
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
/// <remarks>
/// Held as columns, ~35 bytes an event and a handful of objects however long the log (docs/architecture.md, "Long
/// conversations"): ids as 16-byte <see cref="Guid"/>s (every V1 id is one, lowercase and dashed) found through an
/// open-addressing table of positions; kinds and sources as codes into a table of names; timestamps as ticks; journal
/// sequence numbers as the few points where their distance to the seq changes (only conversation events, such as a
/// title change, sit between log entries). An id that is not such a UUID is its seq's decimal (a V0 event) or kept in a
/// side table. The columns grow in chunks, so a long log is never copied whole.
/// </remarks>
public sealed class EventIndex
{
    private const int ChunkBits = 14;
    private const int ChunkSize = 1 << ChunkBits;
    private const int ChunkMask = ChunkSize - 1;
    // The first chunk starts this small and doubles up to ChunkSize: most conversations are short, and a full chunk
    // is ~475 KB (a large-object allocation per conversation, zeroed: 15 % of the CPU of 2,000 conversations × 20
    // events, bench/NOTES.md).
    private const int FirstChunk = 64;

    private readonly List<Guid[]> _ids = [];
    private readonly List<long[]> _ticks = [];
    private readonly List<int[]> _kinds = [];
    private readonly List<byte[]> _sources = [];
    private readonly List<string> _kindNames = [];
    private readonly Dictionary<string, int> _kindCodes = new(StringComparer.Ordinal);
    private readonly List<string> _sourceNames = [];
    private readonly Dictionary<string, byte> _sourceCodes = new(StringComparer.Ordinal);
    // Ids that are neither a lowercase dashed UUID nor their seq's decimal (legacy or hand-made data), both ways.
    private readonly Dictionary<long, string> _otherIdBySeq = [];
    private readonly Dictionary<string, long> _seqByOtherId = new(StringComparer.Ordinal);
    // Where each entry sits in the journal, as the few points where that changes, ascending by seq: from Seq on, entries
    // are one journal row each from Journal on (Shared false), or all in the one row Journal (Shared true: a write of
    // several events persisted as one EventBatch row).
    private readonly List<JournalRun> _journalRuns = [];
    private int[] _slots = new int[16]; // position + 1 of each UUID id; 0 = empty
    private int _uuids;
    private int _count;

    public int Count => _count;

    // ---- building ----

    public void Add(IndexEntry entry) =>
        Add(entry.Seq, entry.JournalSeqNr, entry.Id, entry.Kind, entry.Source, entry.TimestampTicks);

    public void Add(long seq, long journalSeqNr, string id, string kind, string source, long ticks)
    {
        if (seq != _count + 1) throw new InvalidOperationException($"index gap: {seq} after {_count}");
        var uuid = AsUuid(id);
        if (uuid == Guid.Empty && !IsSeqDecimal(id, seq))
        {
            _otherIdBySeq[seq] = id;
            _seqByOtherId[id] = seq;
        }
        Add(seq, journalSeqNr, uuid, kind, source, ticks);
    }

    /// <summary>
    /// Adds an entry whose id is <paramref name="uuid"/>, or, when it is <see cref="Guid.Empty"/>, the seq's decimal
    /// (unless an other id was recorded for the seq first).
    /// </summary>
    internal void Add(long seq, long journalSeqNr, Guid uuid, string kind, string source, long ticks) =>
        Add(seq, journalSeqNr, uuid, KindCode(kind), SourceCode(source), ticks);

    /// <summary>
    /// Makes room in the id table (and the first chunk) for <paramref name="count"/> entries, so loading a long log does
    /// not rehash or copy it as it grows.
    /// </summary>
    public void Reserve(long count)
    {
        var size = _slots.Length;
        while (count * 4L > size * 3L) size *= 2;
        if (size > _slots.Length) Grow(size);
        if (_ids.Count == 0 && count > FirstChunk) // a log being loaded whole: its first chunk at once
        {
            var first = (int)Math.Min(count, ChunkSize);
            _ids.Add(new Guid[first]);
            _ticks.Add(new long[first]);
            _kinds.Add(new int[first]);
            _sources.Add(new byte[first]);
        }
    }

    // Recovery adds every entry of the log in one go, in a process that has just started: these run optimised at
    // once instead of starting as unoptimised tier-0 code (measured: a third of a cold load of 1,000,000 entries).
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal void Add(long seq, long journalSeqNr, Guid uuid, int kindCode, byte sourceCode, long ticks)
    {
        if (seq != _count + 1) throw new InvalidOperationException($"index gap: {seq} after {_count}");
        var (chunk, slot) = ((int)(_count >> ChunkBits), _count & ChunkMask);
        if (chunk == _ids.Count) // (the first chunk may be there already: Reserve)
        {
            var size = chunk == 0 ? FirstChunk : ChunkSize;
            _ids.Add(new Guid[size]);
            _ticks.Add(new long[size]);
            _kinds.Add(new int[size]);
            _sources.Add(new byte[size]);
        }
        else if (chunk == 0 && slot == _ids[0].Length) GrowFirstChunk(Math.Min(slot * 2, ChunkSize));
        _ids[chunk][slot] = uuid;
        _ticks[chunk][slot] = ticks;
        _kinds[chunk][slot] = kindCode;
        _sources[chunk][slot] = sourceCode;
        AddJournalPosition(seq, journalSeqNr);
        _count++;
        if (uuid != Guid.Empty) InsertUuid(uuid, _count - 1);
    }

    private void GrowFirstChunk(int size)
    {
        _ids[0] = Resized(_ids[0], size);
        _ticks[0] = Resized(_ticks[0], size);
        _kinds[0] = Resized(_kinds[0], size);
        _sources[0] = Resized(_sources[0], size);
    }

    private static T[] Resized<T>(T[] array, int size)
    {
        var bigger = new T[size];
        array.CopyTo(bigger, 0);
        return bigger;
    }

    /// <summary>Replaces the whole index (a legacy snapshot's entries).</summary>
    public void Load(IEnumerable<IndexEntry> entries)
    {
        if (_count > 0) throw new InvalidOperationException("only an empty index can be loaded");
        foreach (var e in entries) Add(e);
    }

    // ---- lookups ----

    /// <summary>The seq of an event id; null when the log does not hold it.</summary>
    public long? SeqOf(string eventId)
    {
        var uuid = AsUuid(eventId);
        if (uuid != Guid.Empty) return FindUuid(uuid) is var p and >= 0 ? p + 1 : null;
        if (_seqByOtherId.TryGetValue(eventId, out var other)) return other;
        if (long.TryParse(eventId, NumberStyles.None, CultureInfo.InvariantCulture, out var seq)
            && seq >= 1 && seq <= _count && IsSeqDecimal(eventId, seq)
            && UuidAt(seq) == Guid.Empty && !_otherIdBySeq.ContainsKey(seq))
            return seq;
        return null;
    }

    /// <summary>The entry with this seq (seqs are contiguous from 1).</summary>
    public IndexEntry At(long seq) =>
        new(seq, JournalSeqNrOf(seq), IdAt(seq), KindAt(seq), SourceAt(seq), TicksAt(seq));

    public long JournalSeqNrOf(long seq)
    {
        Check(seq);
        int lo = 0, hi = _journalRuns.Count - 1; // the last change point at or before seq
        while (lo < hi)
        {
            var mid = (lo + hi + 1) / 2;
            if (_journalRuns[mid].Seq <= seq) lo = mid; else hi = mid - 1;
        }
        return _journalRuns[lo].JournalOf(seq);
    }

    /// <summary>One change point of the journal positions: see <see cref="_journalRuns"/>.</summary>
    private readonly record struct JournalRun(long Seq, long Journal, bool Shared)
    {
        public long JournalOf(long seq) => Shared ? Journal : Journal + (seq - Seq);
    }

    /// <summary>
    /// Records that entry <paramref name="seq"/> (the next one) is in journal row <paramref name="journalSeqNr"/>: one
    /// point per run of one-row-per-event entries, and one per row that holds several (a batch row).
    /// </summary>
    private void AddJournalPosition(long seq, long journalSeqNr)
    {
        if (_journalRuns.Count == 0)
        {
            _journalRuns.Add(new JournalRun(seq, journalSeqNr, false));
            return;
        }
        var last = _journalRuns[^1];
        var previous = last.JournalOf(seq - 1);
        if (last.Shared ? journalSeqNr == last.Journal : journalSeqNr == previous + 1) return; // the run goes on
        if (journalSeqNr == previous) // the same row as the entry before: a batch row, which starts at seq − 1
        {
            if (last.Seq == seq - 1) _journalRuns[^1] = new JournalRun(seq - 1, journalSeqNr, true);
            else _journalRuns.Add(new JournalRun(seq - 1, journalSeqNr, true));
            return;
        }
        _journalRuns.Add(new JournalRun(seq, journalSeqNr, false));
    }

    public string IdAt(long seq)
    {
        var uuid = UuidAt(seq);
        if (uuid != Guid.Empty) return uuid.ToString("D");
        return _otherIdBySeq.TryGetValue(seq, out var other) ? other : seq.ToString(CultureInfo.InvariantCulture);
    }

    /// <summary>The id as a UUID; <see cref="Guid.Empty"/> when it is not one (see <see cref="IdAt"/>).</summary>
    internal Guid UuidAt(long seq)
    {
        Check(seq);
        return _ids[(int)((seq - 1) >> ChunkBits)][(seq - 1) & ChunkMask];
    }

    /// <summary>The id when it is neither a UUID nor the seq's decimal; null otherwise.</summary>
    internal string? OtherIdAt(long seq) => _otherIdBySeq.GetValueOrDefault(seq);

    public string KindAt(long seq) => _kindNames[Column(_kinds, seq)];

    public string SourceAt(long seq) => _sourceNames[Column(_sources, seq)];

    public long TicksAt(long seq) => Column(_ticks, seq);

    /// <summary>The last seq whose timestamp is before <paramref name="ticks"/> (0 when none).</summary>
    public long LastSeqBefore(long ticks)
    {
        long lo = 0, hi = _count; // first position with ts >= ticks
        while (lo < hi)
        {
            var mid = (lo + hi) / 2;
            if (TicksAt(mid + 1) < ticks) lo = mid + 1; else hi = mid;
        }
        return lo; // positions [0, lo) are before: their last seq is lo
    }

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
        if (filter == EventFilter.None) return _count;
        var m = Matcher(filter);
        if (m.Never) return 0;
        long n = 0;
        for (long seq = 1; seq <= _count; seq++)
            if (m.Matches(this, seq)) n++;
        return n;
    }

    /// <summary>
    /// One page of matches. <paramref name="pageId"/> is the id of the page's first item (as returned in
    /// <c>next_page_id</c>); the result's next page id is the id of the first match after this page.
    /// </summary>
    public (List<IndexEntry> Items, string? NextPageId, bool UnknownPage) Page(
        EventFilter filter, string? pageId, int limit, bool descending)
    {
        var items = new List<IndexEntry>(Math.Min(limit, _count));
        long start;
        if (pageId is null) start = descending ? _count : 1;
        else if (SeqOf(pageId) is { } seq) start = seq;
        else return (items, null, true);
        var m = Matcher(filter);
        if (m.Never) return (items, null, false);
        var step = descending ? -1 : 1;
        for (var s = start; s >= 1 && s <= _count; s += step)
        {
            if (!m.Matches(this, s)) continue;
            if (items.Count == limit) return (items, IdAt(s), false);
            items.Add(At(s));
        }
        return (items, null, false);
    }

    /// <summary>Bytes held by the columns and tables, as allocated (for the benchmark's memory per event).</summary>
    public long ApproximateBytes =>
        _ids.Sum(c => (long)c.Length) * (16 + 8 + 4 + 1) + _slots.Length * 4L + _journalRuns.Capacity * 24L
        + (_otherIdBySeq.Count + _seqByOtherId.Count) * 96L;

    // ---- filters ----

    /// <summary>A filter resolved against the name tables once, so a scan compares codes, not strings.</summary>
    private readonly record struct FilterCodes(bool Never, int Kind, int Source, long? Gte, long? Lt)
    {
        public bool Matches(EventIndex index, long seq) =>
            (Kind < 0 || Column(index._kinds, seq) == Kind)
            && (Source < 0 || Column(index._sources, seq) == Source)
            && (Gte is null || Column(index._ticks, seq) >= Gte)
            && (Lt is null || Column(index._ticks, seq) < Lt);
    }

    private FilterCodes Matcher(EventFilter f)
    {
        var kind = -1;
        var source = -1;
        var never = false;
        if (f.Kind is { } k)
        {
            var dot = k.LastIndexOf('.');
            if (_kindCodes.TryGetValue(dot < 0 ? k : k[(dot + 1)..], out var code)) kind = code; else never = true;
        }
        if (f.Source is { } s)
        {
            if (_sourceCodes.TryGetValue(s, out var code)) source = code; else never = true;
        }
        return new FilterCodes(never, kind, source, f.TimestampGteTicks, f.TimestampLtTicks);
    }

    // ---- columns and tables ----

    private static T Column<T>(List<T[]> column, long seq) => column[(int)((seq - 1) >> ChunkBits)][(seq - 1) & ChunkMask];

    private void Check(long seq)
    {
        if (seq < 1 || seq > _count) throw new ArgumentOutOfRangeException(nameof(seq), seq, $"the index holds 1..{_count}");
    }

    internal int KindCode(string kind)
    {
        if (_kindCodes.TryGetValue(kind, out var code)) return code;
        code = _kindNames.Count;
        _kindNames.Add(kind);
        _kindCodes[kind] = code;
        return code;
    }

    internal byte SourceCode(string source)
    {
        if (_sourceCodes.TryGetValue(source, out var code)) return code;
        // Sources are validated to agent, user, environment before they are stored.
        if (_sourceNames.Count > byte.MaxValue) throw new InvalidOperationException($"more than 256 distinct sources: {source}");
        code = (byte)_sourceNames.Count;
        _sourceNames.Add(source);
        _sourceCodes[source] = code;
        return code;
    }

    /// <summary>The id as a UUID when it is one in the form the server writes (lowercase, dashed, not nil).</summary>
    internal static Guid AsUuid(string id)
    {
        if (id.Length != 36 || !Guid.TryParseExact(id, "D", out var g) || g == Guid.Empty) return Guid.Empty;
        foreach (var c in id)
            if (c is >= 'A' and <= 'F') return Guid.Empty; // the id is kept as written: only the lowercase form round-trips
        return g;
    }

    private static bool IsSeqDecimal(string id, long seq) =>
        id.Length is > 0 and <= 19 && id[0] != '0'
        && long.TryParse(id, NumberStyles.None, CultureInfo.InvariantCulture, out var n) && n == seq;

    // ---- the UUID table: open addressing over positions, linear probing, at most 3/4 full ----

    private static int Hash(Guid g)
    {
        var halves = MemoryMarshal.Cast<Guid, ulong>(new ReadOnlySpan<Guid>(in g));
        var h = halves[0] ^ (halves[1] * 0x9E3779B97F4A7C15UL);
        h ^= h >> 29;
        h *= 0xBF58476D1CE4E5B9UL;
        return (int)(h ^ (h >> 32));
    }

    /// <summary>
    /// The latest position holding <paramref name="g"/>, or -1. Every copy of an id sits between its home slot and the
    /// next empty one (nothing is ever removed), so the scan goes that far; the highest position wins, as a dictionary's
    /// last write would.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private int FindUuid(Guid g)
    {
        var mask = _slots.Length - 1;
        var found = -1;
        for (var i = Hash(g) & mask; _slots[i] != 0; i = (i + 1) & mask)
        {
            var p = _slots[i] - 1;
            if (p > found && Column(_ids, p + 1) == g) found = p;
        }
        return found;
    }

    /// <summary>
    /// Takes the first empty slot from the id's home: no id is compared on the way (a repeated id is simply stored
    /// again, see <see cref="FindUuid"/>), so a bulk load touches the table, not the ids column, for every entry.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void InsertUuid(Guid g, int position)
    {
        if ((_uuids + 1) * 4L > _slots.Length * 3L) Grow(_slots.Length * 2);
        var mask = _slots.Length - 1;
        var i = Hash(g) & mask;
        while (_slots[i] != 0) i = (i + 1) & mask;
        _slots[i] = position + 1;
        _uuids++;
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void Grow(int size)
    {
        var old = _slots;
        _slots = new int[size];
        var mask = _slots.Length - 1;
        foreach (var p in old)
        {
            if (p == 0) continue;
            var i = Hash(Column(_ids, p)) & mask;
            while (_slots[i] != 0) i = (i + 1) & mask;
            _slots[i] = p;
        }
    }
}
