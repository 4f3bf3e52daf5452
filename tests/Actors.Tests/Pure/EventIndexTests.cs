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
    public void A_zero_capacity_tail_holds_nothing()
    {
        var tail = new EventTail(0);
        tail.Add(E(1));
        Assert.False(tail.Covers(1));
    }
}
