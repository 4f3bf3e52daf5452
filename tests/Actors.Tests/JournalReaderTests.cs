using Akka.Actor;
using Akka.Sync.Actors.Conversations;
using Akka.Sync.Actors.Tests.Support;
using Akka.Sync.Protocol;
using Xunit;
using Xunit.Abstractions;
using static Akka.Sync.Protocol.ConversationCommands;
using static Akka.Sync.Protocol.ConversationReplies;

namespace Akka.Sync.Actors.Tests;

/// <summary>The direct journal read (one SQL query on the journal table) against Akka.Persistence.Query.</summary>
public sealed class JournalReaderTests(ITestOutputHelper output) : SqliteActorTest(output)
{
    [Fact]
    public async Task The_direct_read_returns_exactly_what_the_read_journal_returns_for_any_range()
    {
        var region = Region(Settings(tail: 5, snapshotEvery: 7));
        var id = CreateConversation(region);
        for (var batch = 0; batch < 4; batch++)
        {
            region.Tell(new AppendEvents(id, Enumerable.Range(0, 9).Select(i => Event(body: $$"""{"n":{{batch * 9 + i}}}""")).ToArray()));
            Assert.Equal(ResultCode.Ok, ExpectMsg<AppendResult>(Wait).Code);
        }
        var pid = ConversationActor.PersistenceIdOf(id);
        Assert.True(JournalReader.ReadsDirectly(Sys));

        foreach (var (from, to) in new[] { (0L, long.MaxValue), (1L, 1L), (3L, 17L), (30L, 60L), (100L, 200L) })
        {
            var direct = await JournalReader.Read(Sys, pid, from, to);
            var query = await JournalReader.ReadByQuery(Sys, pid, from, to);
            Assert.Equal(query.Select(e => (e.Seq, e.Id, e.Kind, e.TimestampTicks)), direct.Select(e => (e.Seq, e.Id, e.Kind, e.TimestampTicks)));
            Assert.Equal(query.Select(e => Convert.ToBase64String(e.Json)), direct.Select(e => Convert.ToBase64String(e.Json)));
        }
        Assert.Equal(36, (await JournalReader.Read(Sys, pid, 0, long.MaxValue)).Length);
    }

    [Fact]
    public async Task Reading_at_sequence_numbers_returns_exactly_those_events_in_order()
    {
        var region = Region(Settings(tail: 5));
        var id = CreateConversation(region);
        // One event per write: one journal row each.
        for (var i = 0; i < 40; i++)
        {
            region.Tell(new AppendEvents(id, [Event(body: $$"""{"n":{{i}}}""")]));
            Assert.Equal(ResultCode.Ok, ExpectMsg<AppendResult>(Wait).Code);
        }
        var pid = ConversationActor.PersistenceIdOf(id);
        var all = await JournalReader.ReadPositioned(Sys, pid, 0, long.MaxValue);

        var at = await JournalReader.ReadAt(Sys, pid, [37, 2, 19, 1, 500]); // 1 is the Created entry, 500 does not exist

        var expected = all.Where(p => p.SequenceNr is 2 or 19 or 37).Select(p => p.Event).ToArray();
        Assert.Equal(expected.Select(e => (e.Seq, e.Id, Convert.ToBase64String(e.Json))), at.Select(e => (e.Seq, e.Id, Convert.ToBase64String(e.Json))));
        Assert.Equal([1L, 18L, 36L], at.Select(e => e.Seq));
    }

    [Fact]
    public async Task A_write_of_several_events_is_one_row_whose_events_are_read_one_by_one()
    {
        var region = Region(Settings(tail: 5));
        var id = CreateConversation(region);
        region.Tell(new AppendEvents(id, Enumerable.Range(0, 10).Select(i => Event(body: $$"""{"n":{{i}}}""")).ToArray()));
        Assert.Equal(ResultCode.Ok, ExpectMsg<AppendResult>(Wait).Code);
        region.Tell(new AppendEvents(id, [Event(body: """{"n":10}""")]));
        Assert.Equal(ResultCode.Ok, ExpectMsg<AppendResult>(Wait).Code);
        var pid = ConversationActor.PersistenceIdOf(id);

        var all = await JournalReader.ReadPositioned(Sys, pid, 0, long.MaxValue);

        // Created is row 1, the batch of ten row 2, the single event row 3.
        Assert.Equal(Enumerable.Range(1, 11).Select(i => (long)i), all.Select(p => p.Event.Seq));
        Assert.Equal(Enumerable.Repeat(2L, 10).Append(3L), all.Select(p => p.SequenceNr));
        Assert.Equal(new long[] { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10 }, (await JournalReader.ReadAt(Sys, pid, [2])).Select(e => e.Seq));
        var bounded = await JournalReader.Read(Sys, pid, 2, 3, maxBytes: 1);
        Assert.Equal([1L], bounded.Select(e => e.Seq)); // the byte bound holds inside a row too
        Assert.Equal(new long[] { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11 }, (await JournalReader.ReadByQuery(Sys, pid, 0, long.MaxValue)).Select(e => e.Seq));
        // Only the entries asked for are built from a batch row, and the byte bound counts only those.
        var some = await JournalReader.ReadAt(Sys, pid, [2, 3], wanted: s => s is 3 or 7 or 11);
        Assert.Equal([3L, 7L, 11L], some.Select(e => e.Seq));
        Assert.Equal(all.Where(p => p.Event.Seq == 7).Select(p => Convert.ToBase64String(p.Event.Json)), some.Where(e => e.Seq == 7).Select(e => Convert.ToBase64String(e.Json)));
        Assert.Equal([9L, 10L], (await JournalReader.Read(Sys, pid, 2, 2, wanted: s => s >= 9)).Select(e => e.Seq));
    }

    [Fact]
    public async Task A_write_of_more_than_a_row_holds_is_several_rows_of_one_atomic_write()
    {
        var region = Region(Settings(tail: 5));
        var id = CreateConversation(region);
        region.Tell(new AppendEvents(id, Enumerable.Range(0, 250).Select(i => Event(body: $$"""{"n":{{i}}}""")).ToArray()));
        var items = ExpectMsg<AppendResult>(Wait).Items;
        Assert.Equal(Enumerable.Range(1, 250).Select(i => (long)i), items.Select(i => i.Seq));

        var all = await JournalReader.ReadPositioned(Sys, ConversationActor.PersistenceIdOf(id), 0, long.MaxValue);

        Assert.Equal(Enumerable.Range(1, 250).Select(i => (long)i), all.Select(p => p.Event.Seq));
        Assert.Equal([2L, 3L, 4L], all.Select(p => p.SequenceNr).Distinct());
        Assert.Equal([100, 100, 50], all.GroupBy(p => p.SequenceNr).Select(g => g.Count()));
    }
}
