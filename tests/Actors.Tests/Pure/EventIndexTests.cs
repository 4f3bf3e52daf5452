using Akka.Sync.Actors.Conversations;
using Akka.Sync.Protocol;
using Xunit;
using Filter = Akka.Sync.Protocol.ConversationQueries.EventFilter;

namespace Akka.Sync.Actors.Tests.Pure;

public sealed class EventIndexTests
{
    private static EventIndex Index(int n, Func<int, string>? kind = null)
    {
        var index = new EventIndex();
        for (var i = 1; i <= n; i++)
            index.Add(new IndexEntry(i, i + 1, $"e{i}", kind?.Invoke(i) ?? "MessageEvent", i % 2 == 0 ? "user" : "agent", 1000 + i * 10));
        return index;
    }

    [Fact]
    public void Pages_ascending_name_the_first_item_of_the_next_page()
    {
        var index = Index(7);
        var (p1, next1, _) = index.Page(Filter.None, null, 3, false);
        Assert.Equal(["e1", "e2", "e3"], p1.Select(e => e.Id));
        Assert.Equal("e4", next1);
        var (p3, next3, _) = index.Page(Filter.None, "e7", 3, false);
        Assert.Equal(["e7"], p3.Select(e => e.Id));
        Assert.Null(next3);
        var (exact, nextExact, _) = index.Page(Filter.None, "e5", 3, false);
        Assert.Equal(["e5", "e6", "e7"], exact.Select(e => e.Id));
        Assert.Null(nextExact);
    }

    [Fact]
    public void Pages_descending_walk_back_from_the_newest()
    {
        var (items, next, _) = Index(5).Page(Filter.None, null, 2, true);
        Assert.Equal(["e5", "e4"], items.Select(e => e.Id));
        Assert.Equal("e3", next);
    }

    [Fact]
    public void Filters_match_kind_by_plain_or_qualified_name_source_and_time()
    {
        var index = Index(6, i => i <= 3 ? "MessageEvent" : "ActionEvent");
        Assert.Equal(3, index.CountMatching(new Filter("MessageEvent", null, null, null)));
        Assert.Equal(3, index.CountMatching(new Filter("openhands.sdk.event.llm_convertible.message.MessageEvent", null, null, null)));
        Assert.Equal(0, index.CountMatching(new Filter("Message", null, null, null)));
        Assert.Equal(3, index.CountMatching(new Filter(null, "user", null, null)));
        Assert.Equal(2, index.CountMatching(new Filter(null, null, 1050, 1070)));
        var (items, next, _) = index.Page(new Filter("ActionEvent", "user", null, null), null, 1, false);
        Assert.Equal(["e4"], items.Select(e => e.Id));
        Assert.Equal("e6", next);
    }

    [Fact]
    public void An_unknown_page_id_is_reported() => Assert.True(Index(3).Page(Filter.None, "nope", 2, false).UnknownPage);

    [Fact]
    public void Timestamps_find_the_last_seq_before_a_time()
    {
        var index = Index(5); // ticks 1010..1050
        Assert.Equal(0, index.LastSeqBefore(1000));
        Assert.Equal(0, index.LastSeqBefore(1010));
        Assert.Equal(2, index.LastSeqBefore(1025));
        Assert.Equal(5, index.LastSeqBefore(9999));
    }

    [Fact]
    public void Ids_map_to_seqs_and_gaps_are_refused()
    {
        var index = Index(3);
        Assert.Equal(2, index.SeqOf("e2"));
        Assert.Null(index.SeqOf("e9"));
        Assert.Equal(3, index.At(3).JournalSeqNr - 1);
        Assert.Throws<InvalidOperationException>(() => index.Add(new IndexEntry(5, 6, "x", "K", "agent", 0)));
    }
    [Fact]
    public void Uuid_ids_are_found_among_many_and_a_repeated_id_answers_with_its_latest_seq()
    {
        var index = new EventIndex();
        var ids = Enumerable.Range(0, 50_000).Select(_ => Guid.NewGuid().ToString("D")).ToArray();
        for (var i = 0; i < ids.Length; i++) index.Add(new IndexEntry(i + 1, i + 2, ids[i], "K", "agent", i));
        for (var i = 0; i < ids.Length; i += 997) Assert.Equal(i + 1, index.SeqOf(ids[i]));
        Assert.Null(index.SeqOf(Guid.NewGuid().ToString("D")));
        Assert.Null(index.SeqOf(ids[5].ToUpperInvariant())); // ids are compared as written, as before
        index.Add(new IndexEntry(50_001, 50_002, ids[7], "K", "agent", 0));
        Assert.Equal(50_001, index.SeqOf(ids[7]));
        Assert.Equal(ids[42], index.At(43).Id);
        Assert.InRange(index.ApproximateBytes / 50_001.0, 30, 52); // a column a field (chunks rounded up), not objects an event
    }

    [Fact]
    public void V0_ids_are_their_seqs_and_other_ids_are_kept_as_written()
    {
        var index = new EventIndex();
        index.Add(new IndexEntry(1, 2, "1", "action:message", "user", 10));
        index.Add(new IndexEntry(2, 3, "ABCDEF01-0000-0000-0000-000000000000", "K", "agent", 20));
        index.Add(new IndexEntry(3, 4, "00000000-0000-0000-0000-000000000000", "K", "agent", 30));
        index.Add(new IndexEntry(4, 5, "7", "K", "agent", 40)); // a decimal that is not its own seq
        index.Add(new IndexEntry(5, 6, "5", "K", "agent", 50));
        Assert.Equal(["1", "ABCDEF01-0000-0000-0000-000000000000", "00000000-0000-0000-0000-000000000000", "7", "5"],
            Enumerable.Range(1, 5).Select(s => index.At(s).Id));
        Assert.Equal(1, index.SeqOf("1"));
        Assert.Equal(2, index.SeqOf("ABCDEF01-0000-0000-0000-000000000000"));
        Assert.Equal(3, index.SeqOf("00000000-0000-0000-0000-000000000000"));
        Assert.Equal(4, index.SeqOf("7"));
        Assert.Equal(5, index.SeqOf("5"));
        Assert.Null(index.SeqOf("4")); // seq 4's id is "7"
        Assert.Null(index.SeqOf("01"));
        Assert.Null(index.SeqOf("6"));
    }

    [Fact]
    public void Journal_sequence_numbers_follow_the_entries_between_which_conversation_events_sit()
    {
        var index = new EventIndex();
        long[] journal = [2, 3, 5, 6, 7, 10, 11];
        for (var i = 0; i < journal.Length; i++) index.Add(new IndexEntry(i + 1, journal[i], Guid.NewGuid().ToString("D"), "K", "agent", i));
        Assert.Equal(journal, Enumerable.Range(1, journal.Length).Select(s => index.JournalSeqNrOf(s)));
        Assert.Throws<ArgumentOutOfRangeException>(() => index.JournalSeqNrOf(8));
    }

    [Fact]
    public void Entries_that_share_a_journal_row_map_to_it_with_one_point_per_row()
    {
        // Rows of one event, batch rows of several (a write's EventBatch), and conversation events between them.
        long[] journal = [2, 3, 3, 3, 4, 5, 5, 7, 8, 8, 8, 8, 9, 10, 12, 12];
        var index = new EventIndex();
        for (var i = 0; i < journal.Length; i++) index.Add(new IndexEntry(i + 1, journal[i], Guid.NewGuid().ToString("D"), "K", "agent", i));
        Assert.Equal(journal, Enumerable.Range(1, journal.Length).Select(s => index.JournalSeqNrOf(s)));

        // A long log in batches of 1,000 costs one point per batch, not one per event.
        var big = new EventIndex();
        for (var seq = 1L; seq <= 100_000; seq++) big.Add(seq, 2 + (seq - 1) / 1000, Guid.Empty, "K", "agent", seq);
        Assert.Equal(2, big.JournalSeqNrOf(1000));
        Assert.Equal(3, big.JournalSeqNrOf(1001));
        Assert.Equal(101, big.JournalSeqNrOf(100_000));
        var rowPerEvent = new EventIndex(); // one point in all
        for (var seq = 1L; seq <= 100_000; seq++) rowPerEvent.Add(seq, seq + 1, Guid.Empty, "K", "agent", seq);
        Assert.InRange(big.ApproximateBytes - rowPerEvent.ApproximateBytes, 0, 2 * 100 * 24);

        // Segments carry them exactly, also when a segment ends inside a batch row.
        var copy = new EventIndex();
        Assert.True(IndexSegment.Encode(index, 1, 3).AppendTo(copy, long.MaxValue));
        Assert.True(IndexSegment.Encode(index, 4, 10).AppendTo(copy, long.MaxValue));
        Assert.True(IndexSegment.Encode(index, 11, 16).AppendTo(copy, long.MaxValue));
        Assert.Equal(journal, Enumerable.Range(1, journal.Length).Select(s => copy.JournalSeqNrOf(s)));
    }

    [Fact]
    public void A_short_log_holds_a_small_first_chunk_that_grows_to_full_chunks()
    {
        var index = new EventIndex();
        index.Add(new IndexEntry(1, 2, Guid.NewGuid().ToString("D"), "K", "agent", 1));
        Assert.InRange(index.ApproximateBytes, 1, 8 * 1024); // not a 16,384-entry chunk (~475 KB) for one event
        var entries = new List<IndexEntry> { index.At(1) };
        for (var seq = 2; seq <= 40_000; seq++)
        {
            var e = new IndexEntry(seq, seq + 1, Guid.NewGuid().ToString("D"), seq % 2 == 0 ? "A" : "B", "agent", seq);
            index.Add(e);
            entries.Add(e);
        }
        foreach (var seq in new[] { 1, 63, 64, 65, 127, 128, 5000, 16_383, 16_384, 16_385, 32_768, 40_000 })
        {
            Assert.Equal(entries[seq - 1], index.At(seq));
            Assert.Equal(seq, index.SeqOf(entries[seq - 1].Id));
        }
        var reserved = new EventIndex();
        reserved.Reserve(40_000);
        foreach (var e in entries) reserved.Add(e);
        Assert.Equal(entries[^1], reserved.At(40_000));
        Assert.Equal(entries[99], reserved.At(100));
    }

    [Fact]
    public void A_version_1_segment_is_still_read()
    {
        // Version 1 (before batch rows) stored each journal distance minus one: entries at journal rows 2 and 4.
        byte[] v1 =
        [
            1, 1, 2, 2, 10, // version, first seq, count, first journal sequence number, first ticks
            2, 1, (byte)'K', 5, (byte)'a', (byte)'g', (byte)'e', (byte)'n', (byte)'t', // names
            1, 0, 1, 0, 0, // seq's decimal id, kind, source, ticks +0, journal +0+1
            1, 0, 1, 10, 1, // seq's decimal id, kind, source, ticks +5, journal +1+1
        ];
        var index = new EventIndex();
        Assert.True(new IndexSegment(v1).AppendTo(index, long.MaxValue));
        Assert.Equal(new IndexEntry(1, 2, "1", "K", "agent", 10), index.At(1));
        Assert.Equal(new IndexEntry(2, 4, "2", "K", "agent", 15), index.At(2));
    }

    [Fact]
    public void Segments_carry_every_entry_exactly_and_join_up_to_the_index_they_came_from()
    {
        var source = new EventIndex();
        string[] kinds = ["MessageEvent", "ActionEvent", "action:run", "Ünïcode"];
        var journal = 1L;
        var ticks = 638_000_000_000_000_000L;
        for (var seq = 1; seq <= 2_500; seq++)
        {
            journal += seq % 37 == 0 ? 3 : 1;
            ticks += seq % 11 == 0 ? -5 : seq * 13; // timestamps are stamped in order, but a segment copes either way
            var id = (seq % 50) switch { 0 => seq.ToString(), 1 => "legacy-" + seq, _ => Guid.NewGuid().ToString("D") };
            source.Add(new IndexEntry(seq, journal, id, kinds[seq % kinds.Length], seq % 3 == 0 ? "user" : "agent", ticks));
        }
        var segments = new[] { (1L, 1000L), (1001L, 1999L), (2000L, 2500L) }.Select(r => IndexSegment.Encode(source, r.Item1, r.Item2)).ToArray();

        var copy = new EventIndex();
        foreach (var s in segments) Assert.True(s.AppendTo(copy, long.MaxValue));

        Assert.Equal(source.Count, copy.Count);
        for (var seq = 1; seq <= source.Count; seq++) Assert.Equal(source.At(seq), copy.At(seq));
        Assert.Equal((1001L, 1999L), (segments[1].FirstSeq, segments[1].LastSeq));
        Assert.InRange(segments[0].Bytes.Length / 1000.0, 20, 26);
        // Overlaps are skipped, a gap is refused, and a bound stops early.
        var partial = new EventIndex();
        Assert.False(segments[1].AppendTo(partial, long.MaxValue));
        Assert.True(segments[0].AppendTo(partial, 600));
        Assert.Equal(600, partial.Count);
        Assert.True(segments[0].AppendTo(partial, long.MaxValue));
        Assert.Equal(1000, partial.Count);
        Assert.Equal(source.At(1000), partial.At(1000));
    }
}

public sealed class EventTailTests
{
    private static EventEnvelope E(long seq) => new(default, seq, $"e{seq}", "K", "agent", 0, []);

    [Fact]
    public void Keeps_the_last_events_up_to_its_capacity()
    {
        var tail = new EventTail(3);
        for (var i = 1; i <= 5; i++) tail.Add(E(i));
        Assert.Equal(3, tail.FirstSeq);
        Assert.False(tail.Covers(2));
        Assert.True(tail.Covers(5));
        Assert.False(tail.Covers(6));
        Assert.Equal([3L, 4L], tail.Range(3, 4, 10).Select(e => e.Seq));
        Assert.Equal([4L], tail.Range(4, 5, 1).Select(e => e.Seq));
        Assert.Equal("e5", tail.Get(5)!.Id);
        Assert.Null(tail.Get(1));
        Assert.Empty(tail.Range(1, 5, 10));
    }

    [Fact]
    public void May_start_past_seq_one_after_recovery_from_a_snapshot_and_refuses_gaps()
    {
        var tail = new EventTail(4);
        tail.Add(E(40));
        tail.Add(E(41));
        Assert.Equal([40L, 41L], tail.Range(40, 99, 99).Select(e => e.Seq));
        Assert.Throws<InvalidOperationException>(() => tail.Add(E(43)));
    }

    [Fact]
    public void Grows_up_to_its_capacity_keeping_every_event_it_holds()
    {
        var tail = new EventTail(100);
        for (var i = 7; i <= 300; i++)
        {
            tail.Add(E(i));
            var first = Math.Max(7, i - 99);
            Assert.Equal(first, tail.FirstSeq);
            Assert.Equal(Enumerable.Range(first, i - first + 1).Select(s => (long)s), tail.Range(first, i, 1000).Select(e => e.Seq));
        }
    }

    [Fact]
    public void A_zero_capacity_tail_holds_nothing()
    {
        var tail = new EventTail(0);
        tail.Add(E(1));
        Assert.False(tail.Covers(1));
    }
}
