using Akka.Actor;
using Akka.Sync.Actors.Conversations;
using Akka.Sync.Actors.Tests.Support;
using Akka.Sync.Protocol;
using Xunit;
using Xunit.Abstractions;
using static Akka.Sync.Protocol.ConversationCommands;
using static Akka.Sync.Protocol.ConversationQueries;
using static Akka.Sync.Protocol.ConversationReplies;
using static Akka.Sync.Protocol.ConversationSubscription;

namespace Akka.Sync.Actors.Tests;

/// <summary>The entity's side of the hand-over: what Subscribed promises, who is refused, when subscriptions end.</summary>
public sealed class ConversationActorSubscriptionTests(ITestOutputHelper output) : SqliteActorTest(output)
{
    [Fact]
    public void Subscribed_names_the_replay_range_and_every_later_event_is_published()
    {
        var region = Region(Settings());
        var id = CreateConversation(region);
        var items = AppendOk(region, id, 5);
        var live = CreateTestProbe();
        var all = CreateTestProbe();
        var after = CreateTestProbe();

        region.Tell(new Subscribe(id, live.Ref, ReplayFrom.LiveOnly, Dialect.V1));
        var s1 = ExpectMsg<Subscribed>(Wait);
        region.Tell(new Subscribe(id, all.Ref, ReplayFrom.All, Dialect.V1));
        var s2 = ExpectMsg<Subscribed>(Wait);
        region.Tell(new Subscribe(id, after.Ref, ReplayFrom.EventId(items[2].Id), Dialect.V1));
        var s3 = ExpectMsg<Subscribed>(Wait);

        Assert.Equal((5L, 5L), (s1.LastSeq, s1.ReplayAfterSeq));
        Assert.Equal((5L, 0L), (s2.LastSeq, s2.ReplayAfterSeq));
        Assert.Equal((5L, 3L), (s3.LastSeq, s3.ReplayAfterSeq));
        Assert.Contains("\"full_state\"", System.Text.Encoding.UTF8.GetString(s1.FullState));
        AppendOk(region, id, 1);
        foreach (var p in new[] { live, all, after })
            Assert.Equal(6, p.ExpectMsg<EventEnvelope>(Wait).Seq);
    }

    [Fact]
    public void Since_a_timestamp_replays_the_events_at_or_after_it()
    {
        var region = Region(Settings());
        var id = CreateConversation(region);
        for (var i = 0; i < 4; i++) AppendOk(region, id, 1); // four writes, four distinct timestamps
        region.Tell(new ReadRange(id, 1, 4, 10));
        var stored = ExpectMsg<EventRange>(Wait).Events;
        Assert.Equal(4, stored.Select(e => e.TimestampTicks).Distinct().Count());

        long ReplayAfter(DateTime since)
        {
            region.Tell(new Subscribe(id, CreateTestProbe().Ref, ReplayFrom.Since(since), Dialect.V1));
            return ExpectMsg<Subscribed>(Wait).ReplayAfterSeq;
        }

        Assert.Equal(1, ReplayAfter(stored[1].Timestamp));              // at seq 2's timestamp: 2 is included
        Assert.Equal(2, ReplayAfter(stored[1].Timestamp.AddTicks(1)));  // just after it: from 3
        Assert.Equal(0, ReplayAfter(DateTime.UnixEpoch));
        Assert.Equal(4, ReplayAfter(DateTime.UtcNow.AddDays(1)));
    }

    [Fact]
    public void Subscribing_to_an_unknown_conversation_is_refused_not_found()
    {
        var region = Region(Settings());
        var id = ConversationId.New();

        region.Tell(new Subscribe(id, TestActor, ReplayFrom.All, Dialect.V1));

        Assert.Equal(new Refused(id, RefusalReason.NotFound), ExpectMsg<Refused>(Wait));
    }

    [Fact]
    public void Subscribing_after_an_unknown_event_id_or_in_the_wrong_dialect_is_refused()
    {
        var region = Region(Settings());
        var id = CreateConversation(region);
        AppendOk(region, id, 1);

        region.Tell(new Subscribe(id, TestActor, ReplayFrom.EventId(Guid.NewGuid().ToString("D")), Dialect.V1));
        Assert.Equal(new Refused(id, RefusalReason.UnknownAfterEventId), ExpectMsg<Refused>(Wait));
        region.Tell(new Subscribe(id, TestActor, ReplayFrom.All, Dialect.V0));
        Assert.Equal(new Refused(id, RefusalReason.WrongProtocol), ExpectMsg<Refused>(Wait));

        // A refused subscriber gets nothing published.
        AppendOk(region, id, 1);
        ExpectNoMsg(TimeSpan.FromMilliseconds(200));
    }

    [Fact]
    public void Subscribers_beyond_the_limit_are_refused_and_a_repeated_subscribe_is_not_counted_twice()
    {
        var region = Region(Settings() with { MaxSubscribers = 2 });
        var id = CreateConversation(region);
        var a = CreateTestProbe();
        var b = CreateTestProbe();

        foreach (var p in new[] { a, a, b })
        {
            region.Tell(new Subscribe(id, p.Ref, ReplayFrom.LiveOnly, Dialect.V1));
            ExpectMsg<Subscribed>(Wait);
        }
        region.Tell(new Subscribe(id, TestActor, ReplayFrom.LiveOnly, Dialect.V1));
        Assert.Equal(RefusalReason.TooManySubscribers, ExpectMsg<Refused>(Wait).Reason);

        // A subscriber that unsubscribes frees its place; a repeated subscribe still gets each event once.
        region.Tell(new Unsubscribe(id, b.Ref));
        region.Tell(new Subscribe(id, TestActor, ReplayFrom.LiveOnly, Dialect.V1));
        ExpectMsg<Subscribed>(Wait);
        AppendOk(region, id, 1);
        Assert.Equal(1, a.ExpectMsg<EventEnvelope>(Wait).Seq);
        Assert.Equal(1, ExpectMsg<EventEnvelope>(Wait).Seq);
        a.ExpectNoMsg(TimeSpan.FromMilliseconds(200));
    }

    [Fact]
    public void Deleting_ends_subscriptions_and_refuses_further_commands()
    {
        var directory = CreateTestProbe();
        var region = Region(Settings(), directory.Ref);
        var id = CreateConversation(region);
        var subscriber = CreateTestProbe();
        region.Tell(new Subscribe(id, subscriber.Ref, ReplayFrom.LiveOnly, Dialect.V1));
        ExpectMsg<Subscribed>(Wait);

        region.Tell(new Delete(id));

        Assert.Equal(ResultCode.Ok, ExpectMsg<CommandResult>(Wait).Code);
        Assert.Equal(new Ended(id, RefusalReason.Deleted), subscriber.ExpectMsg<Ended>(Wait));
        directory.FishForMessage(m => m is DirectoryCommands.Upsert { Deleted: true }, Wait);
        Assert.Equal(ResultCode.NotFound, Append(region, id, Event()).Code);
        region.Tell(new Subscribe(id, subscriber.Ref, ReplayFrom.All, Dialect.V1));
        Assert.Equal(RefusalReason.NotFound, ExpectMsg<Refused>(Wait).Reason);
        region.Tell(new Create(id, Dialect.V1, null, null, ConversationState.HashKey("k")));
        Assert.Equal(ResultCode.Conflict, ExpectMsg<CreateResult>(Wait).Code);
        // Deleted stays deleted in the next incarnation.
        RestartEntity(region, id);
        region.Tell(new GetInfo(id));
        Assert.Equal(ResultCode.NotFound, ExpectMsg<InfoResult>(Wait).Code);
    }

    [Fact]
    public void Keys_are_checked_by_hash_and_a_repeated_create_issues_another_one()
    {
        var region = Region(Settings());
        var id = CreateConversation(region); // key "k"
        region.Tell(new Create(id, Dialect.V1, null, null, ConversationState.HashKey("k2")));
        Assert.Equal(ResultCode.Ok, ExpectMsg<CreateResult>(Wait).Code);

        foreach (var (key, allowed) in new[] { ("k", true), ("k2", true), ("K", false), ("k ", false), ("other", false) })
        {
            region.Tell(new Authorize(id, ConversationState.HashKey(key)));
            Assert.Equal(allowed, ExpectMsg<AuthorizeResult>(Wait).Allowed);
        }
        region.Tell(new Authorize(ConversationId.New(), ConversationState.HashKey("k")));
        Assert.False(ExpectMsg<AuthorizeResult>(Wait).Allowed);
    }
}
