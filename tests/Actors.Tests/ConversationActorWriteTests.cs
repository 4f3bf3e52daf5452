using System.Text;
using Akka.Actor;
using Akka.Sync.Actors.Conversations;
using Akka.Sync.Actors.Tests.Support;
using Akka.Sync.Protocol;
using Xunit;
using Xunit.Abstractions;
using static Akka.Sync.Protocol.ConversationCommands;
using static Akka.Sync.Protocol.ConversationReplies;
using static Akka.Sync.Protocol.ConversationSubscription;

namespace Akka.Sync.Actors.Tests;

/// <summary>How a conversation writes: persist, then reply, then publish; contiguous seqs; idempotent producer ids.</summary>
public sealed class ConversationActorWriteTests(ITestOutputHelper output) : SqliteActorTest(output)
{
    [Fact]
    public async Task The_reply_comes_after_the_write_is_durable_and_before_subscribers_get_the_event()
    {
        var region = Region(Settings());
        var id = CreateConversation(region);
        // The test actor is both the writer and a subscriber: one mailbox shows the order of reply and publish.
        region.Tell(new Subscribe(id, TestActor, ReplayFrom.LiveOnly, Dialect.V1));
        ExpectMsg<Subscribed>(Wait);
        var rowsBefore = JournalRows(id);

        // Another writer holds SQLite's write lock: the journal's insert waits for it.
        using (var blocker = OpenDatabase())
        {
            using (var begin = blocker.CreateCommand())
            {
                begin.CommandText = "BEGIN IMMEDIATE";
                begin.ExecuteNonQuery();
            }
            region.Tell(new AppendEvents(id, [Event(body: """{"n":1}""")]));

            // While the write cannot complete, neither the reply nor the event goes out.
            ExpectNoMsg(TimeSpan.FromMilliseconds(700));
            using var commit = blocker.CreateCommand();
            commit.CommandText = "COMMIT";
            commit.ExecuteNonQuery();
        }

        var reply = ExpectMsg<AppendResult>(Wait);
        // What was acknowledged is already a row in the SQLite journal, and the query side reads it back.
        Assert.Equal(rowsBefore + 1, JournalRows(id));
        var stored = await JournalReader.Read(Sys, ConversationActor.PersistenceIdOf(id), 0, long.MaxValue);
        var storedEvent = Assert.Single(stored);
        Assert.Equal((reply.Items[0].Id, 1L), (storedEvent.Id, storedEvent.Seq));
        var published = ExpectMsg<EventEnvelope>(Wait);
        Assert.Equal((reply.Items[0].Id, 1L), (published.Id, published.Seq));
        Assert.Equal(storedEvent.Json, published.Json);
    }

    [Fact]
    public void A_write_the_journal_fails_is_answered_unavailable_and_never_published_or_stored()
    {
        var region = Region(Settings());
        var id = CreateConversation(region);
        var subscriber = CreateTestProbe();
        region.Tell(new Subscribe(id, subscriber.Ref, ReplayFrom.LiveOnly, Dialect.V1));
        ExpectMsg<Subscribed>(Wait);
        AppendOk(region, id, 1);
        subscriber.ExpectMsg<EventEnvelope>(e => e.Seq == 1, Wait);
        region.Tell(new EntityParent.GetEntity(id));
        var entity = ExpectMsg<EntityParent.Entity>(Wait).Ref!;
        Watch(entity);
        var eventId = Guid.NewGuid().ToString("D");

        Execute("ALTER TABLE journal RENAME TO journal_offline"); // every write now fails
        var failed = Append(region, id, Event(id: eventId, body: """{"attempt":"lost"}"""));

        Assert.Equal(ResultCode.Unavailable, failed.Code);
        Assert.Empty(failed.Items);
        // The incarnation that counted the lost write is gone; the next one recovers from what is durable.
        ExpectTerminated(entity, Wait);
        Execute("ALTER TABLE journal_offline RENAME TO journal");
        Assert.Equal(1, Count(region, id));
        region.Tell(new Subscribe(id, subscriber.Ref, ReplayFrom.LiveOnly, Dialect.V1));
        Assert.Equal(1, ExpectMsg<Subscribed>(Wait).LastSeq);
        // The producer's retry is stored (its id was never recorded) at the seq the lost write would have had.
        var retried = Append(region, id, Event(id: eventId, body: """{"attempt":"kept"}"""));
        Assert.Equal(new AppendedItem(eventId, 2), Assert.Single(retried.Items));
        // The subscriber's next event is the retry: the failed write was never published.
        var next = subscriber.ExpectMsg<EventEnvelope>(Wait);
        Assert.Equal(2, next.Seq);
        Assert.Contains("kept", Encoding.UTF8.GetString(next.Json));
        Assert.Equal(2, Count(region, id));
    }

    [Fact]
    public void Seqs_stay_contiguous_across_many_concurrent_batches()
    {
        var region = Region(Settings(tail: 50));
        var id = CreateConversation(region);
        var probes = Enumerable.Range(0, 6).Select(_ => CreateTestProbe()).ToArray();

        // 6 senders × 10 batches × 5 events, none waiting for its answers.
        for (var round = 0; round < 10; round++)
            foreach (var p in probes)
                region.Tell(new AppendEvents(id, Events(5)), p.Ref);

        var perSender = probes.Select(p => Enumerable.Range(0, 10).SelectMany(_ => p.ExpectMsg<AppendResult>(Wait).Items).ToArray()).ToArray();
        var items = perSender.SelectMany(i => i).ToList();
        Assert.Equal(Seqs(1, 300), items.Select(i => i.Seq).Order());
        // One sender's batches are stored in the order it sent them.
        Assert.All(perSender, sent => Assert.Equal(sent.Select(i => i.Seq).Order(), sent.Select(i => i.Seq)));
        // The journal holds exactly what was acknowledged.
        Assert.Equal(300, Count(region, id));
        region.Tell(new ReadRange(id, 1, 300, 500));
        var stored = ExpectMsg<EventRange>(Wait).Events; // older than the tail: read from the journal
        Assert.Equal(Seqs(1, 300), stored.Select(e => e.Seq));
        Assert.Equal(items.OrderBy(i => i.Seq).Select(i => i.Id), stored.Select(e => e.Id));
    }

    [Fact]
    public void A_batch_keeps_its_events_together_and_in_input_order()
    {
        var region = Region(Settings());
        var id = CreateConversation(region);
        var writers = Enumerable.Range(0, 4).Select(_ => CreateTestProbe()).ToArray();

        foreach (var w in writers) region.Tell(new AppendEvents(id, Events(10)), w.Ref);

        foreach (var w in writers)
        {
            var seqs = w.ExpectMsg<AppendResult>(Wait).Items.Select(i => i.Seq).ToArray();
            Assert.Equal(Seqs(seqs[0], seqs[0] + 9), seqs);
        }
    }

    [Fact]
    public void A_repeated_event_id_is_acknowledged_with_its_first_seq_even_while_the_first_write_is_in_flight()
    {
        var region = Region(Settings());
        var id = CreateConversation(region);
        var eventId = Guid.NewGuid().ToString("D");
        var rowsBefore = JournalRows(id);

        // Back to back: the second arrives while the first may still be writing.
        region.Tell(new AppendEvents(id, [Event(id: eventId)]));
        region.Tell(new AppendEvents(id, [Event(id: eventId), Event()]));
        var first = ExpectMsg<AppendResult>(Wait);
        var second = ExpectMsg<AppendResult>(Wait);

        Assert.Equal(new AppendedItem(eventId, 1), first.Items[0]);
        Assert.Equal(new AppendedItem(eventId, 1), second.Items[0]);
        Assert.Equal(2, second.Items[1].Seq);
        Assert.Equal(2, Count(region, id));
        Assert.Equal(rowsBefore + 2, JournalRows(id));
        // Once durable, a retry is still only acknowledged.
        Assert.Equal(new AppendedItem(eventId, 1), Assert.Single(Append(region, id, Event(id: eventId)).Items));
        Assert.Equal(rowsBefore + 2, JournalRows(id));
    }

    [Fact]
    public void An_event_id_repeated_within_one_batch_is_stored_once()
    {
        var region = Region(Settings());
        var id = CreateConversation(region);
        var eventId = Guid.NewGuid().ToString("D");

        var result = Append(region, id, Event(id: eventId, body: """{"n":1}"""), Event(), Event(id: eventId, body: """{"n":2}"""));

        Assert.Equal(ResultCode.Ok, result.Code);
        Assert.Equal([1L, 2L, 1L], result.Items.Select(i => i.Seq));
        Assert.Equal(eventId, result.Items[2].Id);
        Assert.Equal(2, Count(region, id));
        region.Tell(new ReadRange(id, 1, 10, 10));
        var stored = ExpectMsg<EventRange>(Wait).Events;
        Assert.Equal(1, stored.Count(e => e.Id == eventId));
        Assert.Contains("\"n\":1", Encoding.UTF8.GetString(stored[0].Json));
    }
}
