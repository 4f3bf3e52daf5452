using Akka.Actor;
using Akka.Sync.Actors.Conversations;
using Akka.Sync.Protocol;
using Xunit;
using static Akka.Sync.Protocol.ConversationSubscription;

namespace Akka.Sync.Actors.Tests;

/// <summary>
/// The subscriber set on its own: its checks, where replays start, watching, one shared message per write, and the
/// end on delete. Probes stand in for subscribers; a recording watcher stands in for the actor's context.
/// </summary>
public sealed class SubscriberSetTests : Akka.TestKit.Xunit2.TestKit
{
    private static readonly DateTime At = new(2026, 11, 24, 12, 0, 0, DateTimeKind.Utc);
    private readonly ConversationId _id = ConversationId.New();
    private readonly RecordingWatcher _watcher = new();

    private ConversationState Created(Dialect dialect = Dialect.V1) =>
        ConversationState.Empty(_id).Apply(new ConversationEvents.Created(_id, dialect, null, At.Ticks, []));

    /// <summary>A live conversation holding three events (ids a, b, c one second apart), as durable state and index.</summary>
    private (ConversationState State, EventIndex Index) WithThreeEvents()
    {
        var state = Created();
        var index = new EventIndex();
        foreach (var (eventId, i) in new[] { "a", "b", "c" }.Select((x, i) => (x, i)))
        {
            var e = state.Stamp([new Draft("X", "agent", eventId, "{}"u8.ToArray())], At.AddSeconds(i))[0];
            state = state.Apply(e);
            index.Add(new IndexEntry(e.Seq, e.Seq + 1, e.Id, e.Kind, e.Source, e.TimestampTicks));
        }
        return (state, index);
    }

    private Subscribe Sub(IActorRef who, ReplayFrom from, Dialect dialect = Dialect.V1) => new(_id, who, from, dialect);

    [Fact]
    public void Not_found_comes_before_the_wrong_dialect_and_the_wrong_dialect_before_an_unknown_event_id()
    {
        var set = new SubscriberSet(_id, 10, _watcher);
        var absent = ConversationState.Empty(_id);
        var v0 = Created(Dialect.V0);
        var probe = CreateTestProbe().Ref;

        Assert.Equal(RefusalReason.NotFound, set.Check(Sub(probe, ReplayFrom.EventId("nope"), Dialect.V0), absent, new EventIndex(), out _));
        Assert.Equal(RefusalReason.WrongProtocol, set.Check(Sub(probe, ReplayFrom.EventId("nope")), v0, new EventIndex(), out _));
        Assert.Equal(RefusalReason.UnknownAfterEventId, set.Check(Sub(probe, ReplayFrom.EventId("nope")), Created(), new EventIndex(), out _));
        Assert.Equal(new Refused(_id, RefusalReason.UnknownAfterEventId), set.Subscribe(Sub(probe, ReplayFrom.EventId("nope")), Created(), new EventIndex(), At));
        Assert.Equal(0, set.Count);
        Assert.Empty(_watcher.Watched);
    }

    [Fact]
    public void Replays_start_after_what_was_asked_but_never_after_what_was_published()
    {
        var (state, index) = WithThreeEvents();
        var set = new SubscriberSet(_id, 10, _watcher) { PublishedSeq = 2 }; // seq 3 is durable, not yet published
        long After(ReplayFrom from)
        {
            Assert.Null(set.Check(Sub(CreateTestProbe().Ref, from), state, index, out var after));
            return after;
        }

        Assert.Equal(2, After(ReplayFrom.LiveOnly));
        Assert.Equal(0, After(ReplayFrom.All));
        Assert.Equal(1, After(ReplayFrom.EventId("a")));
        Assert.Equal(2, After(ReplayFrom.EventId("c")));
        Assert.Equal(1, After(ReplayFrom.Seq(1)));
        Assert.Equal(2, After(ReplayFrom.Seq(99)));
        Assert.Equal(1, After(ReplayFrom.Since(At.AddSeconds(1))));
    }

    [Fact]
    public void A_full_set_refuses_newcomers_but_not_a_subscriber_it_already_holds()
    {
        var (state, index) = WithThreeEvents();
        var set = new SubscriberSet(_id, 2, _watcher) { PublishedSeq = 3 };
        var first = CreateTestProbe().Ref;
        var second = CreateTestProbe().Ref;

        var subscribed = Assert.IsType<Subscribed>(set.Subscribe(Sub(first, ReplayFrom.All), state, index, At));
        Assert.Equal((3L, 0L), (subscribed.LastSeq, subscribed.ReplayAfterSeq));
        Assert.IsType<Subscribed>(set.Subscribe(Sub(second, ReplayFrom.LiveOnly), state, index, At));
        Assert.IsType<Subscribed>(set.Subscribe(Sub(first, ReplayFrom.LiveOnly), state, index, At));

        Assert.Equal(new Refused(_id, RefusalReason.TooManySubscribers), set.Subscribe(Sub(CreateTestProbe().Ref, ReplayFrom.LiveOnly), state, index, At));
        Assert.Equal(2, set.Count);
        Assert.Equal([first, second], _watcher.Watched.Select(w => w.Subject));
        Assert.Equal(new SubscriberSet.Terminated(first), _watcher.Watched[0].Message);

        set.Remove(first);
        set.Remove(first);
        Assert.Equal([first], _watcher.Unwatched);
        Assert.Equal(1, set.Count);
    }

    [Fact]
    public void A_write_is_one_message_per_subscriber_sharing_the_same_events_and_a_lone_event_goes_as_itself()
    {
        var (state, index) = WithThreeEvents();
        var set = new SubscriberSet(_id, 10, _watcher) { PublishedSeq = 3 };
        var probes = new[] { CreateTestProbe(), CreateTestProbe() };
        foreach (var p in probes) set.Subscribe(Sub(p.Ref, ReplayFrom.LiveOnly), state, index, At);

        var batch = state.Stamp([new Draft("X", "agent", null, "{}"u8.ToArray()), new Draft("Y", "agent", null, "{}"u8.ToArray())], At);
        set.Publish([new ConversationEvents.TitleChanged("t", At.Ticks), .. batch]);
        var received = probes.Select(p => p.ExpectMsg<EventsPublished>()).ToArray();
        Assert.Same(received[0], received[1]);
        Assert.Equal(batch, received[0].Events);
        Assert.Same(batch[0].Json, received[0].Events[0].Json);
        Assert.Equal(5, set.PublishedSeq);

        var lone = state.Apply(batch[0]).Apply(batch[1]).Stamp([new Draft("Z", "agent", null, "{}"u8.ToArray())], At)[0];
        set.Publish([lone]);
        foreach (var p in probes) Assert.Same(lone, p.ExpectMsg<EventEnvelope>());

        set.Publish([new ConversationEvents.TitleChanged("only a title", At.Ticks)]);
        foreach (var p in probes) p.ExpectNoMsg(TimeSpan.FromMilliseconds(100));
        Assert.Equal(6, set.PublishedSeq);
    }

    [Fact]
    public void Ending_tells_every_subscriber_why_and_empties_the_set()
    {
        var (state, index) = WithThreeEvents();
        var set = new SubscriberSet(_id, 10, _watcher);
        var probe = CreateTestProbe();
        set.Subscribe(Sub(probe.Ref, ReplayFrom.LiveOnly), state, index, At);

        set.EndAll(RefusalReason.Deleted);

        Assert.Equal(new Ended(_id, RefusalReason.Deleted), probe.ExpectMsg<Ended>());
        Assert.Equal(0, set.Count);
        set.Publish(state.Stamp([new Draft("X", "agent", null, "{}"u8.ToArray())], At));
        probe.ExpectNoMsg(TimeSpan.FromMilliseconds(100));
    }

    [Fact]
    public void A_relay_is_one_publish_target_for_all_its_sockets_and_each_socket_counts_against_the_limit()
    {
        var (state, index) = WithThreeEvents();
        var set = new SubscriberSet(_id, 3, _watcher) { PublishedSeq = 3 };
        var relay = CreateTestProbe();
        var sockets = Enumerable.Range(0, 4).Select(_ => CreateTestProbe().Ref).ToArray();
        Subscribe Via(IActorRef socket) => new(_id, socket, ReplayFrom.LiveOnly, Dialect.V1, relay.Ref);

        foreach (var socket in sockets.Take(3))
            Assert.Equal(socket, Assert.IsType<Subscribed>(set.Subscribe(Via(socket), state, index, At)).Subscriber);
        Assert.IsType<Subscribed>(set.Subscribe(Via(sockets[0]), state, index, At)); // already held: not counted twice
        Assert.Equal(new Refused(_id, RefusalReason.TooManySubscribers, sockets[3]), set.Subscribe(Via(sockets[3]), state, index, At));
        Assert.Equal((3, 1), (set.Count, set.Targets));
        Assert.Equal([relay.Ref], _watcher.Watched.Select(w => w.Subject));

        var e = state.Stamp([new Draft("X", "agent", null, "{}"u8.ToArray())], At)[0];
        set.Publish([e]);
        Assert.Same(e, relay.ExpectMsg<EventEnvelope>());
        relay.ExpectNoMsg(TimeSpan.FromMilliseconds(100)); // one message for the node, not one per socket

        set.Unsubscribe(new Unsubscribe(_id, sockets[0], relay.Ref));
        Assert.Equal((2, 1), (set.Count, set.Targets));
        set.Unsubscribe(new Unsubscribe(_id, sockets[1], relay.Ref));
        set.Unsubscribe(new Unsubscribe(_id, sockets[2], relay.Ref));
        Assert.Equal((0, 0), (set.Count, set.Targets));
        Assert.Equal([relay.Ref], _watcher.Unwatched);
    }

    [Fact]
    public void A_relay_reattaches_its_admitted_sockets_without_the_checks_and_learns_the_last_published_seq()
    {
        var (state, index) = WithThreeEvents();
        var set = new SubscriberSet(_id, 1, _watcher) { PublishedSeq = 3 };
        var relay = CreateTestProbe().Ref;
        var sockets = new[] { CreateTestProbe().Ref, CreateTestProbe().Ref };

        Assert.Equal(new Subscribed(_id, 3, 3, [], relay) with { FullState = [] },
            Assert.IsType<Subscribed>(set.Resubscribe(new Resubscribe(_id, relay, sockets), state)) with { FullState = [] });
        set.Resubscribe(new Resubscribe(_id, relay, [sockets[0]]), state); // a quiet check: nothing added twice
        Assert.Equal((2, 1), (set.Count, set.Targets));
        Assert.Equal(new Refused(_id, RefusalReason.NotFound, relay), set.Resubscribe(new Resubscribe(_id, relay, sockets), ConversationState.Empty(_id)));

        set.Remove(relay); // the relay's node went away: its sockets with it
        Assert.Equal((0, 0), (set.Count, set.Targets));
    }

    private sealed class RecordingWatcher : ICanWatch
    {
        public List<(IActorRef Subject, object? Message)> Watched { get; } = [];
        public List<IActorRef> Unwatched { get; } = [];

        public IActorRef Watch(IActorRef subject)
        {
            Watched.Add((subject, null));
            return subject;
        }

        public IActorRef WatchWith(IActorRef subject, object message)
        {
            Watched.Add((subject, message));
            return subject;
        }

        public IActorRef Unwatch(IActorRef subject)
        {
            Unwatched.Add(subject);
            return subject;
        }
    }
}
