using System.Buffers;
using System.Runtime.CompilerServices;
using System.Text;
using Akka.Event;
using Akka.Sync.Protocol;

namespace Akka.Sync.Actors.Conversations;

/// <summary>
/// A run of consecutive <see cref="EventIndex"/> entries in a compact binary form (~22 bytes an event): how a
/// conversation persists its index, one segment per <see cref="ConversationSettings.SnapshotEvery"/> events, each saved
/// once, so the bytes written per event do not grow with the log. Stored in the snapshot store under
/// <see cref="IndexSegments.PersistenceIdOf"/>, keyed by the last seq it covers; recovery reads them all back with one
/// query (<see cref="IndexSegments"/>).
/// </summary>
/// <remarks>
/// Layout (version 2): version byte; first seq, count, first journal sequence number, first timestamp (varints); the
/// segment's table of kind and source names; then per entry: the id's form (0 UUID + its 16 bytes, 1 the seq's decimal,
/// 2 a string), kind and source as table codes, the timestamp as a zigzag delta from the previous one, and the journal
/// sequence number as its distance from the previous one's (1 for one row per event, more when a conversation event sits
/// between them, 0 within a batch row). Version 1, still read, stored that distance minus one (no batch rows then).
/// </remarks>
public sealed record IndexSegment(byte[] Bytes) : ISyncMessage
{
    private const byte Version = 2;
    private const byte UuidId = 0, SeqId = 1, StringId = 2;

    /// <summary>The seq of the segment's first entry.</summary>
    public long FirstSeq => new Reader(Bytes).Header().FirstSeq;

    /// <summary>The seq of the segment's last entry.</summary>
    public long LastSeq => new Reader(Bytes).Header() is var h ? h.FirstSeq + h.Count - 1 : 0;

    /// <summary>The entries <paramref name="fromSeq"/>..<paramref name="toSeq"/> of <paramref name="index"/>.</summary>
    public static IndexSegment Encode(EventIndex index, long fromSeq, long toSeq)
    {
        if (fromSeq < 1 || toSeq < fromSeq || toSeq > index.Count)
            throw new ArgumentOutOfRangeException(nameof(toSeq), $"{fromSeq}..{toSeq} of 1..{index.Count}");
        var names = new Dictionary<string, int>(StringComparer.Ordinal);
        int Name(string n) => names.TryGetValue(n, out var c) ? c : names[n] = names.Count;
        var entries = new ArrayBufferWriter<byte>((int)(toSeq - fromSeq + 1) * 22);
        var prevTicks = index.TicksAt(fromSeq);
        var prevJournal = index.JournalSeqNrOf(fromSeq);
        for (var seq = fromSeq; seq <= toSeq; seq++)
        {
            var uuid = index.UuidAt(seq);
            var other = uuid == Guid.Empty ? index.OtherIdAt(seq) : null;
            if (uuid != Guid.Empty)
            {
                WriteByte(entries, UuidId);
                uuid.TryWriteBytes(entries.GetSpan(16));
                entries.Advance(16);
            }
            else if (other is null) WriteByte(entries, SeqId);
            else
            {
                WriteByte(entries, StringId);
                WriteString(entries, other);
            }
            WriteVarint(entries, (ulong)Name(index.KindAt(seq)));
            WriteVarint(entries, (ulong)Name(index.SourceAt(seq)));
            var ticks = index.TicksAt(seq);
            var delta = ticks - prevTicks;
            WriteVarint(entries, (ulong)((delta << 1) ^ (delta >> 63)));
            prevTicks = ticks;
            var journal = index.JournalSeqNrOf(seq);
            WriteVarint(entries, (ulong)(journal - prevJournal));
            prevJournal = journal;
        }
        var all = new ArrayBufferWriter<byte>(entries.WrittenCount + 64 + names.Count * 24);
        WriteByte(all, Version);
        WriteVarint(all, (ulong)fromSeq);
        WriteVarint(all, (ulong)(toSeq - fromSeq + 1));
        WriteVarint(all, (ulong)index.JournalSeqNrOf(fromSeq));
        WriteVarint(all, (ulong)index.TicksAt(fromSeq));
        WriteVarint(all, (ulong)names.Count);
        foreach (var n in names.OrderBy(kv => kv.Value)) WriteString(all, n.Key);
        all.Write(entries.WrittenSpan);
        return new IndexSegment(all.WrittenSpan.ToArray());
    }

    /// <summary>
    /// Adds this segment's entries that come after <paramref name="index"/>'s last one, up to
    /// <paramref name="throughSeq"/>. False when the segment starts after the index's end (a gap: nothing is added).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)] // recovery's bulk loop, in a fresh process (see EventIndex.Add)
    public bool AppendTo(EventIndex index, long throughSeq)
    {
        var r = new Reader(Bytes);
        var (firstSeq, count, journal, ticks) = r.Header();
        if (firstSeq > index.Count + 1) return false;
        var gap = r.Version == 1 ? 1L : 0L; // version 1 stored each distance minus one
        var names = new string[r.Varint()];
        for (var i = 0; i < names.Length; i++) names[i] = r.String();
        // The segment's name codes as the index's, resolved lazily: a name is a kind or a source, or both.
        var kinds = new int[names.Length];
        var sources = new int[names.Length];
        journal -= gap;
        for (var seq = firstSeq; seq < firstSeq + count && seq <= throughSeq; seq++)
        {
            var form = r.Byte();
            var uuid = form == UuidId ? r.Uuid() : Guid.Empty;
            var other = form == StringId ? r.String() : null;
            var kind = (int)r.Varint();
            var source = (int)r.Varint();
            var zigzag = (long)r.Varint();
            ticks += (zigzag >>> 1) ^ -(zigzag & 1);
            journal += (long)r.Varint() + gap;
            if (seq <= index.Count) continue;
            if (other is not null)
            {
                index.Add(seq, journal, other, names[kind], names[source], ticks);
                continue;
            }
            if (kinds[kind] == 0) kinds[kind] = index.KindCode(names[kind]) + 1;
            if (sources[source] == 0) sources[source] = index.SourceCode(names[source]) + 1;
            index.Add(seq, journal, uuid, kinds[kind] - 1, (byte)(sources[source] - 1), ticks);
        }
        return true;
    }

    // ---- encoding ----

    private static void WriteByte(ArrayBufferWriter<byte> w, byte b)
    {
        w.GetSpan(1)[0] = b;
        w.Advance(1);
    }

    private static void WriteVarint(ArrayBufferWriter<byte> w, ulong v)
    {
        var span = w.GetSpan(10);
        var n = 0;
        while (v >= 0x80)
        {
            span[n++] = (byte)(v | 0x80);
            v >>= 7;
        }
        span[n++] = (byte)v;
        w.Advance(n);
    }

    private static void WriteString(ArrayBufferWriter<byte> w, string s)
    {
        var n = Encoding.UTF8.GetByteCount(s);
        WriteVarint(w, (ulong)n);
        Encoding.UTF8.GetBytes(s, w.GetSpan(n));
        w.Advance(n);
    }

    private ref struct Reader(byte[] bytes)
    {
        private readonly ReadOnlySpan<byte> _bytes = bytes;
        private int _at;

        public byte Version { get; private set; }

        public (long FirstSeq, long Count, long Journal, long Ticks) Header()
        {
            var version = Version = Byte();
            if (version is not (1 or IndexSegment.Version)) throw new InvalidDataException($"unknown index segment version {version}");
            return ((long)Varint(), (long)Varint(), (long)Varint(), (long)Varint());
        }

        public byte Byte() => _bytes[_at++];

        public ulong Varint()
        {
            ulong v = 0;
            for (var shift = 0; ; shift += 7)
            {
                var b = _bytes[_at++];
                v |= (ulong)(b & 0x7F) << shift;
                if (b < 0x80) return v;
            }
        }

        public Guid Uuid()
        {
            var g = new Guid(_bytes.Slice(_at, 16));
            _at += 16;
            return g;
        }

        public string String()
        {
            var n = (int)Varint();
            var s = Encoding.UTF8.GetString(_bytes.Slice(_at, n));
            _at += n;
            return s;
        }
    }
}

/// <summary>Where a conversation's index segments are stored, and how its recovery rebuilds the index from them.</summary>
public static class IndexSegments
{
    /// <summary>Journal entries read at a time when the segments stop short of the state snapshot.</summary>
    private const long JournalChunk = 10_000;

    /// <summary>The snapshot-store persistence id a conversation's segments are saved under.</summary>
    public static string PersistenceIdOf(string conversationPersistenceId) => conversationPersistenceId + "-index";

    /// <summary>
    /// The index of seqs 1..<paramref name="throughSeq"/> (a state snapshot's log, which ends at journal sequence number
    /// <paramref name="throughJournalSeqNr"/>): the saved segments with one query, then whatever they do not cover
    /// (not saved yet, lost, or a snapshot store that cannot be read directly) from the journal, in chunks.
    /// <see cref="Loaded.SegmentsThrough"/> says how far the saved segments reach, so saving carries on from there.
    /// </summary>
    public static async Task<Loaded> LoadAsync(Akka.Actor.ActorSystem system, string persistenceId, long throughSeq, long throughJournalSeqNr)
    {
        var index = new EventIndex();
        index.Reserve(throughSeq);
        long reach = 0;
        var rows = JournalReader.ReadSnapshots(system, PersistenceIdOf(persistenceId));
        try
        {
            foreach (var segment in (rows is null ? [] : await rows.ConfigureAwait(false)).OfType<IndexSegment>())
            {
                if (segment.FirstSeq > reach + 1) break; // a gap: the rest comes from the journal
                segment.AppendTo(index, throughSeq);
                reach = Math.Max(reach, segment.LastSeq);
            }
        }
        catch (Exception e) when (e is InvalidDataException or IndexOutOfRangeException or ArgumentException or InvalidOperationException)
        {
            // A segment that does not decode: the segments are only a copy of the journal's metadata, so trust none
            // of them and read the whole index from the journal.
            system.Log.Warning(e, "Index segments of {0} are unreadable; reading its index from the journal", persistenceId);
            index = new EventIndex();
            index.Reserve(throughSeq);
            reach = 0;
        }
        // From the last indexed entry's row on: a batch row may hold entries past it (the filter below skips the rest).
        var next = index.Count == 0 ? 1 : index.JournalSeqNrOf(index.Count);
        while (index.Count < throughSeq && next <= throughJournalSeqNr)
        {
            var to = Math.Min(throughJournalSeqNr, next + JournalChunk - 1);
            foreach (var (journalSeqNr, e) in await JournalReader.ReadPositioned(system, persistenceId, next, to).ConfigureAwait(false))
                if (e.Seq == index.Count + 1 && e.Seq <= throughSeq)
                    index.Add(e.Seq, journalSeqNr, e.Id, e.Kind, e.Source, e.TimestampTicks);
            next = to + 1;
        }
        if (index.Count != throughSeq)
            throw new InvalidOperationException($"{persistenceId}: the journal holds {index.Count} of the snapshot's {throughSeq} log entries");
        return new Loaded(index, reach);
    }

    /// <summary>A recovered index, and the last seq the saved segments cover.</summary>
    public sealed record Loaded(EventIndex Index, long SegmentsThrough);
}
