using Akka.Actor;
using Akka.Sync.Actors.Conversations;
using Akka.Sync.Actors.Tests.Support;
using Akka.Sync.Protocol;
using Xunit;
using Xunit.Abstractions;
using static Akka.Sync.Protocol.ConversationCommands;
using static Akka.Sync.Protocol.ConversationQueries;
using static Akka.Sync.Protocol.ConversationReplies;

namespace Akka.Sync.Actors.Tests;

/// <summary>
/// The node-local route to live conversation entities (<see cref="LocalConversations"/>, <see cref="ConversationRoute"/>):
/// a request reaches a live entity without the region's two hops, nothing sent through it is lost when the entity
/// passivates or is handed off, and what comes after goes through the region again.
/// </summary>
public sealed class LocalConversationsTests(ITestOutputHelper output) : SqliteActorTest(output)
{
    private LocalConversations Local => LocalConversations.Get(Sys);

    [Fact]
    public void A_live_entity_is_reached_directly_and_its_route_closes_before_it_asks_to_be_passivated()
    {
        var region = Region(Settings(idle: TimeSpan.FromMilliseconds(500)));
        var route = new ConversationRoute(region, Sys);
        var watcher = CreateTestProbe();
        region.Tell("watch-passivation", watcher.Ref);

        var id = CreateConversation(route); // through the region: nothing runs for it yet
        Assert.True(Local.IsOpen(id));
        Assert.True(Local.TryTell(id, new AppendEvents(id, Events(3)), TestActor)); // straight to the entity
        Assert.Equal(ResultCode.Ok, ExpectMsg<AppendResult>(Wait).Code);

        // Idle: the route is closed before the entity asks its parent to passivate it.
        var passivated = watcher.ExpectMsg<EntityParent.Passivated>(p => p.Id == id, Wait);
        Assert.False(passivated.RouteOpen);
        Assert.False(Local.TryTell(id, new CountEvents(id, ConversationQueries.EventFilter.None), TestActor));
        ExpectNoMsg(TimeSpan.FromMilliseconds(100)); // nothing was sent

        // Through the region again: a new incarnation recovers, answers, and opens its own route.
        Assert.Equal(3, Count(route, id));
        Assert.True(Local.IsOpen(id));
    }

    /// <summary>
    /// A hand-off's stop message may reach the entity ahead of messages already sent through its route: the entity
    /// closes the route, serves them, and only then stops. Here they queue while the entity's mailbox is suspended.
    /// </summary>
    [Fact]
    public void Messages_sent_through_the_route_behind_a_hand_offs_stop_are_served_before_the_entity_stops()
    {
        var region = Region(Settings());
        var route = new ConversationRoute(region, Sys);
        var id = CreateConversation(route);
        AppendOk(route, id, 2);
        region.Tell(new EntityParent.GetEntity(id));
        var entity = (IInternalActorRef)ExpectMsg<EntityParent.Entity>(Wait).Ref!;
        var watcher = CreateTestProbe();
        watcher.Watch(entity);
        var reader = CreateTestProbe();
        var writer = CreateTestProbe();

        entity.Suspend(); // a system message: handled before any user message below
        entity.Tell(ConversationActor.StopGracefully.Instance); // what a shard sends on a hand-off
        Assert.True(Local.TryTell(id, new CountEvents(id, ConversationQueries.EventFilter.None), reader.Ref)); // behind the stop
        Assert.True(Local.TryTell(id, new AppendEvents(id, Events(1)), writer.Ref));
        entity.Resume();

        Assert.Equal(2, reader.ExpectMsg<EventCount>(Wait).Count);
        Assert.Equal(ResultCode.Ok, writer.ExpectMsg<AppendResult>(Wait).Code);
        watcher.ExpectTerminated(entity, Wait);
        Assert.False(Local.IsOpen(id));
        Assert.False(Local.TryTell(id, new CountEvents(id, ConversationQueries.EventFilter.None), reader.Ref));
        Assert.Equal(3, Count(route, id)); // the next incarnation, through the region, recovered the write
    }

    [Fact]
    public void A_conversation_without_a_live_entity_here_goes_through_the_region()
    {
        var probe = CreateTestProbe();
        var route = new ConversationRoute(probe.Ref, Sys);
        var id = ConversationId.New();
        Assert.False(Local.IsOpen(id));
        route.Tell(new CountEvents(id, ConversationQueries.EventFilter.None), TestActor);
        Assert.Equal(id, probe.ExpectMsg<CountEvents>(Wait).ConversationId);
        Assert.Equal(TestActor, probe.LastSender);
        route.Tell("not for a conversation", TestActor);
        probe.ExpectMsg("not for a conversation", Wait);
    }
}
