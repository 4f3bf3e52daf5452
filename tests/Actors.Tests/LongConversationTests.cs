using System.Text;
using System.Text.Json;
using Akka.Actor;
using Akka.Persistence.Query;
using EventEnvelope = Akka.Sync.Protocol.EventEnvelope;
using Akka.Persistence.Sql.Query;
using Akka.Streams;
using Akka.Streams.Dsl;
using Akka.Sync.Actors.Conversations;
using Akka.Sync.Actors.Tests.Support;
using Akka.Sync.Protocol;
using Xunit;
using Xunit.Abstractions;
using static Akka.Sync.Protocol.ConversationCommands;
using static Akka.Sync.Protocol.ConversationQueries;
using static Akka.Sync.Protocol.ConversationReplies;
using static Akka.Sync.Protocol.ConversationSubscription;
using Filter = Akka.Sync.Protocol.ConversationQueries.EventFilter;

namespace Akka.Sync.Actors.Tests;

/// <summary>
/// Long conversations (issue 13): snapshots hold the state only and the index is saved in segments written once, so
/// the bytes a snapshot writes do not grow with the log; every answer (idempotency, reads, replay starts) is the same
/// after a restart, whether the index comes back from segments, from the journal, or from a legacy snapshot.
/// </summary>
public sealed class LongConversationTests(ITestOutputHelper output) : SqliteActorTest(output)
{
    private static readonly string[] Kinds = ["MessageEvent", "ActionEvent", "ObservationEvent"];
    private static readonly string[] Sources = ["agent", "user", "environment"];
    private static readonly string Unknown = Guid.NewGuid().ToString("D");

    private static string Pid(ConversationId id) => ConversationActor.PersistenceIdOf(id);

    private static string IndexPid(ConversationId id) => IndexSegments.PersistenceIdOf(Pid(id));

    /// <summary>(persistence id, sequence number, manifest, bytes) of every snapshot row of the conversation and its index.</summary>
    private List<(string Pid, long SeqNr, string Manifest, long Bytes)> SnapshotTable(ConversationId id)
    {
        using var connection = OpenDatabase();
        using var command = connection.CreateCommand();
        command.CommandText = "SELECT persistence_id, sequence_number, manifest, length(snapshot) FROM snapshot " +
                              "WHERE persistence_id IN ($p, $i) ORDER BY persistence_id, sequence_number";
        command.Parameters.AddWithValue("$p", Pid(id));
        command.Parameters.AddWithValue("$i", IndexPid(id));
        using var reader = command.ExecuteReader();
        var rows = new List<(string, long, string, long)>();
        while (reader.Read()) rows.Add((reader.GetString(0), reader.GetInt64(1), reader.GetString(2), reader.GetInt64(3)));
        return rows;
    }

    /// <summary>
    /// A batch of events with producer ids, kinds and sources varied, each body ~100 bytes. Every third is an
    /// ActionEvent no observation answers (pending in the state, up to <see cref="ConversationState.MaxPending"/>),
    /// unless <paramref name="actions"/> is false.
    /// </summary>
    private static IncomingEvent[] Batch(int first, int n, bool actions = true) => Enumerable.Range(first, n).Select(i =>
        Event(actions ? Kinds[i % 3] : "MessageEvent", Sources[i / 3 % 3], Guid.NewGuid().ToString("D"),
            $$"""{"n":{{i}},"pad":"{{new string('x', 80)}}"}""")).ToArray();

    private string[] Ingest(IActorRef region, ConversationId id, int events, int batch = 100, bool actions = true)
    {
        var ids = new List<string>();
        for (var n = 0; n < events; n += batch)
        {
            var result = Append(region, id, Batch(n, Math.Min(batch, events - n), actions));
            Assert.Equal(ResultCode.Ok, result.Code);
            ids.AddRange(result.Items.Select(i => i.Id));
        }
        return ids.ToArray();
    }

    [Fact]
    public void Snapshot_bytes_per_thousand_events_stay_the_same_as_the_log_grows()
    {
        var region = Region(Settings(snapshotEvery: 1000));
        var id = CreateConversation(region);

        // No pending actions: the state snapshot then holds what any conversation's does (status, title, keys); with
        // unanswered ActionEvents it holds up to MaxPending of them too, a bound that does not depend on the log either.
        // Batches of 100 are one journal row each: the state snapshot after 2,000 events is at row 21 (Created + 20).
        Ingest(region, id, 2000, actions: false);
        var early = AwaitSnapshots(id, stateAtLeast: 21, segmentsAtLeast: 2000);
        Ingest(region, id, 4000, actions: false);
        var late = AwaitSnapshots(id, stateAtLeast: 61, segmentsAtLeast: 5000);

        // A snapshot round writes one state snapshot and one segment of the entries since the last one: per 1,000
        // events, the same bytes after 6,000 events as after 2,000 (the whole-index snapshot grew 3× here).
        var earlyPerThousand = 1000.0 * early.IndexBytes / early.SegmentsThrough;
        var latePerThousand = 1000.0 * (late.IndexBytes - early.IndexBytes) / (late.SegmentsThrough - early.SegmentsThrough);
        Output?.WriteLine($"after 2,000 events: state snapshot {early.StateBytes} B, index {earlyPerThousand:0} B per 1,000 events; " +
                         $"after 6,000: {late.StateBytes} B, {latePerThousand:0} B per 1,000");
        Assert.InRange(late.StateBytes, 1, early.StateBytes + 16);
        Assert.InRange(latePerThousand, 0, earlyPerThousand * 1.05);
        Assert.InRange(earlyPerThousand, 18_000, 26_000); // ~22 bytes an event, written once
        Assert.InRange(early.StateBytes, 1, 2048);
    }

    private (long StateBytes, long IndexBytes, long SegmentsThrough) AwaitSnapshots(ConversationId id, long stateAtLeast, long segmentsAtLeast)
    {
        List<(string Pid, long SeqNr, string Manifest, long Bytes)> rows = [];
        AwaitAssert(() =>
        {
            rows = SnapshotTable(id);
            // One state snapshot (each replaces the one before) …
            var state = Assert.Single(rows, r => r.Pid == Pid(id));
            Assert.Equal("state", state.Manifest);
            Assert.True(state.SeqNr >= stateAtLeast, $"state snapshot at {state.SeqNr}");
            // … and segments, keyed by the last seq each holds, covering the log so far.
            Assert.True(rows.Where(r => r.Pid == IndexPid(id)).Max(r => r.SeqNr) >= segmentsAtLeast);
        }, Wait);
        var segments = rows.Where(r => r.Pid == IndexPid(id)).ToList();
        return (rows.Single(r => r.Pid == Pid(id)).Bytes, segments.Sum(r => r.Bytes), segments.Max(r => r.SeqNr));
    }

    /// <summary>
    /// Every answer that needs the index, as text: counts and pages with and without filters, events by id, where a
    /// replay starts after an id or a time. Equal texts before and after a restart mean equal answers.
    /// </summary>
    private string Answers(IActorRef region, ConversationId id, string[] ids, long sinceTicks)
    {
        var sb = new StringBuilder();
        foreach (var f in new[]
                 {
                     Filter.None, new Filter("ActionEvent", null, null, null), new Filter("openhands.sdk.event.ObservationEvent", "user", null, null),
                     new Filter(null, "environment", sinceTicks, null), new Filter(null, null, null, sinceTicks), new Filter("NoSuchEvent", null, null, null),
                 })
        {
            region.Tell(new CountEvents(id, f));
            sb.AppendLine($"count {f}: {ExpectMsg<EventCount>(Wait)}");
            foreach (var (page, descending) in new[] { ((string?)null, false), (null, true), (ids[ids.Length / 3], false), (ids[ids.Length / 2], true) })
            {
                region.Tell(new SearchEvents(id, f, page, 7, descending));
                var p = ExpectMsg<EventPage>(Wait);
                sb.AppendLine($"page {f} {page} {descending}: {p.Code} next {p.NextPageId} [{string.Join(",", p.Items.Select(i => JsonDocument.Parse(i).RootElement.GetProperty("id").GetString()))}]");
            }
        }
        foreach (var eventId in new[] { ids[0], ids[ids.Length / 2], ids[^1], Unknown, "1" })
        {
            region.Tell(new GetEvent(id, eventId));
            var e = ExpectMsg<EventResult>(Wait);
            sb.AppendLine($"get {eventId}: {e.Code} {(e.Json is null ? "" : Convert.ToBase64String(e.Json))}");
            var subscriber = CreateTestProbe();
            region.Tell(new Subscribe(id, subscriber.Ref, ReplayFrom.EventId(eventId), Dialect.V1));
            sb.AppendLine($"after {eventId}: {Describe(ExpectMsg<object>(Wait))}");
            region.Tell(new Unsubscribe(id, subscriber.Ref));
        }
        var since = CreateTestProbe();
        region.Tell(new Subscribe(id, since.Ref, new ReplayFrom(ReplayKind.SinceTimestamp, SinceTicks: sinceTicks), Dialect.V1));
        sb.AppendLine($"since: {Describe(ExpectMsg<object>(Wait))}");
        region.Tell(new Unsubscribe(id, since.Ref));
        return sb.ToString();
    }

    private static string Describe(object answer) => answer switch
    {
        Subscribed s => $"subscribed {s.LastSeq} replay after {s.ReplayAfterSeq}",
        Refused r => $"refused {r.Reason}",
        _ => answer.ToString()!,
    };

    private long TicksOf(IActorRef region, ConversationId id, long seq)
    {
        region.Tell(new ReadRange(id, seq, seq, 1));
        return ExpectMsg<EventRange>(Wait).Events.Single().TimestampTicks;
    }

    /// <summary>A long-ish log with conversation events (title changes) between its entries, so journal and event seqs differ.</summary>
    private string[] LongLog(IActorRef region, ConversationId id, int events, int batch = 40)
    {
        var ids = new List<string>();
        for (var n = 0; n < events; n += 40)
        {
            ids.AddRange(Ingest(region, id, Math.Min(40, events - n), batch: batch));
            region.Tell(new SetTitle(id, $"t{n}"));
            Assert.Equal(ResultCode.Ok, ExpectMsg<CommandResult>(Wait).Code);
        }
        return ids.ToArray();
    }

    private void AssertOldIdsAreRecognised(IActorRef region, ConversationId id, string[] ids, long count)
    {
        foreach (var k in new[] { 0, 1, ids.Length / 2, ids.Length - 1 })
        {
            var again = Append(region, id, Event(id: ids[k]));
            Assert.Equal(new AppendedItem(ids[k], k + 1), Assert.Single(again.Items));
        }
        Assert.Equal(count, Count(region, id));
    }

    [Fact]
    public void After_a_restart_the_index_comes_back_from_its_segments_and_every_answer_and_old_id_is_the_same()
    {
        var region = Region(Settings(tail: 20, snapshotEvery: 50));
        var id = CreateConversation(region);
        var ids = LongLog(region, id, 430);
        var since = TicksOf(region, id, 200);
        AwaitAssert(() => Assert.Contains(SnapshotTable(id), r => r.Pid == IndexPid(id) && r.SeqNr >= 400), Wait);
        var before = Answers(region, id, ids, since);

        RestartEntity(region, id);

        Assert.Equal(before, Answers(region, id, ids, since));
        AssertOldIdsAreRecognised(region, id, ids, 430);
        // The log continues at the next seq, and a snapshot later the entity recovers again to the same answers.
        var more = Ingest(region, id, 100);
        Assert.Equal(530, Count(region, id));
        RestartEntity(region, id);
        AssertOldIdsAreRecognised(region, id, [.. ids, .. more], 530);
    }

    [Fact]
    public void Without_its_segments_or_with_one_unreadable_the_index_is_read_back_from_the_journal_with_the_same_answers()
    {
        var region = Region(Settings(tail: 20, snapshotEvery: 50));
        var id = CreateConversation(region);
        var ids = LongLog(region, id, 300);
        var since = TicksOf(region, id, 150);
        AwaitAssert(() => Assert.Contains(SnapshotTable(id), r => r.Pid == IndexPid(id) && r.SeqNr >= 250), Wait);
        var before = Answers(region, id, ids, since);
        RestartEntity(region, id);

        // One segment in the middle lost: the segments before it are used, the rest comes from the journal.
        Execute($"DELETE FROM snapshot WHERE persistence_id = '{IndexPid(id)}' AND sequence_number = " +
                $"(SELECT MIN(sequence_number) FROM snapshot WHERE persistence_id = '{IndexPid(id)}' AND sequence_number > 100)");
        Assert.Equal(before, Answers(region, id, ids, since));
        RestartEntity(region, id);

        // A segment that does not decode (cut short): none is trusted, the index comes from the journal.
        Execute($"UPDATE snapshot SET snapshot = substr(snapshot, 1, 100) WHERE persistence_id = '{IndexPid(id)}' AND sequence_number = " +
                $"(SELECT MIN(sequence_number) FROM snapshot WHERE persistence_id = '{IndexPid(id)}')");
        EventFilter.Warning(contains: "unreadable").ExpectOne(Wait, () => Assert.Equal(before, Answers(region, id, ids, since)));
        RestartEntity(region, id);

        // Every segment lost.
        Execute($"DELETE FROM snapshot WHERE persistence_id = '{IndexPid(id)}'");
        Assert.Equal(before, Answers(region, id, ids, since));
        AssertOldIdsAreRecognised(region, id, ids, 300);
    }

    /// <summary>The snapshot JSON the server wrote before long conversations: manifest "snap", the state and the whole index.</summary>
    private sealed record OldConversationSnapshot(ConversationState State, IndexEntry[] Index);

    [Fact]
    public async Task A_legacy_snapshot_is_read_once_then_replaced_by_a_state_snapshot_and_segments()
    {
        // Written with snapshots off, so no save of this version is in flight when the data is rewritten below.
        var writer = Region(Settings(tail: 20, snapshotEvery: 1_000_000));
        var id = CreateConversation(writer);
        var ids = LongLog(writer, id, 230, batch: 1); // one journal row per event, as every write was then
        var since = TicksOf(writer, id, 100);
        var before = Answers(writer, id, ids, since);
        RestartEntity(writer, id);
        Assert.Empty(SnapshotTable(id));

        // What the previous version left: its snapshot of the log up to journal entry 150 (state + the whole index
        // as JSON, manifest "snap"), and the journal after it.
        const long legacyAt = 150;
        var journal = await PersistenceQuery.Get(Sys).ReadJournalFor<SqlReadJournal>(SqlReadJournal.Identifier)
            .CurrentEventsByPersistenceId(Pid(id), 1, legacyAt).RunWith(Sink.Seq<Akka.Persistence.Query.EventEnvelope>(), Sys.Materializer());
        var state = journal.Aggregate(ConversationState.Empty(id), (st, e) => st.Apply(e.Event));
        var entries = journal.Where(e => e.Event is EventEnvelope)
            .Select(e => (e.SequenceNr, Event: (EventEnvelope)e.Event))
            .Select(p => new IndexEntry(p.Event.Seq, p.SequenceNr, p.Event.Id, p.Event.Kind, p.Event.Source, p.Event.TimestampTicks)).ToArray();
        Assert.Equal(state.LastSeq, entries.Length);
        using (var connection = OpenDatabase())
        using (var insert = connection.CreateCommand())
        {
            insert.CommandText = "INSERT INTO snapshot (persistence_id, sequence_number, created, snapshot, manifest, serializer_id) " +
                                 "VALUES ($p, $n, $c, $s, 'snap', $z)";
            insert.Parameters.AddWithValue("$p", Pid(id));
            insert.Parameters.AddWithValue("$n", legacyAt);
            insert.Parameters.AddWithValue("$c", DateTime.UtcNow.Ticks);
            insert.Parameters.AddWithValue("$s", JsonSerializer.SerializeToUtf8Bytes(new OldConversationSnapshot(state, entries)));
            insert.Parameters.AddWithValue("$z", Serialization.SyncSerializer.SerializerId);
            insert.ExecuteNonQuery();
        }

        // Recovered from the legacy snapshot and the journal after it: the same answers, and old ids are still known.
        var region = Region(Settings(tail: 20, snapshotEvery: 50));
        Assert.Equal(before, Answers(region, id, ids, since));
        AssertOldIdsAreRecognised(region, id, ids, 230);
        // Then saved the new way without waiting for more events: segments for the whole log, and a state snapshot
        // that replaces the legacy one.
        AwaitAssert(() =>
        {
            var rows = SnapshotTable(id);
            Assert.Equal("state", Assert.Single(rows, r => r.Pid == Pid(id)).Manifest);
            Assert.Contains(rows, r => r.Pid == IndexPid(id) && r.SeqNr == 230);
        }, Wait);
        RestartEntity(region, id);
        Assert.Equal(before, Answers(region, id, ids, since));
        AssertOldIdsAreRecognised(region, id, ids, 230);
    }

    [Fact]
    public void Commands_sent_while_the_index_loads_wait_for_it_and_are_answered_in_order()
    {
        var region = Region(Settings(tail: 5, snapshotEvery: 20));
        var id = CreateConversation(region);
        var ids = Ingest(region, id, 200, batch: 10);
        AwaitAssert(() => Assert.Contains(SnapshotTable(id), r => r.Pid == IndexPid(id) && r.SeqNr >= 180), Wait);
        RestartEntity(region, id);

        // The first message starts the entity; these arrive while it recovers and loads its index (stashed), and are
        // decided on the whole index once it is there: old ids acknowledged with their seqs, not stored again.
        region.Tell(new AppendEvents(id, [Event(id: ids[3])]));
        region.Tell(new AppendEvents(id, [Event(id: ids[150]), Event(), Event(id: ids[199])]));

        Assert.Equal(new AppendedItem(ids[3], 4), Assert.Single(ExpectMsg<AppendResult>(Wait).Items));
        var second = ExpectMsg<AppendResult>(Wait).Items;
        Assert.Equal((ids[150], 151L), (second[0].Id, second[0].Seq));
        Assert.Equal(201, second[1].Seq);
        Assert.Equal((ids[199], 200L), (second[2].Id, second[2].Seq));
        Assert.Equal(201, Count(region, id));
    }
}
