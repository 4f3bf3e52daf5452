using System.Text.Json;
using Akka.Sync.Actors.Conversations;
using Akka.Sync.Protocol;
using Xunit;
using static Akka.Sync.Protocol.ConversationCommands;

namespace Akka.Sync.Actors.Tests.Pure;

/// <summary>The rules of a conversation that follows an upstream agent server, with no actor system.</summary>
public sealed class ConversationStateUpstreamTests
{
    private static readonly DateTime Now = new(2026, 11, 24, 12, 0, 0, DateTimeKind.Utc);
    private static readonly UpstreamBinding Binding = new("http://upstream:8000", Guid.NewGuid().ToString("D"), [9, 9]);

    private static ConversationState Bound()
    {
        var id = ConversationId.New();
        var created = ConversationState.Empty(id).DecideCreate(new Create(id, Dialect.V1, "t", null, ConversationState.HashKey("k"), Binding), Now);
        return Assert.IsType<Decision.Store>(created).Events.Aggregate(ConversationState.Empty(id), (s, e) => s.Apply(e));
    }

    private static FollowedEvent Upstream(string id, DateTime? at) =>
        new(id, "MessageEvent", "agent", at is { } t ? WireTime.TruncateToMicros(t).Ticks : null, """{"llm_message":{"role":"assistant"}}"""u8.ToArray());

    private static (ConversationState State, EventEnvelope[] Stored) Follow(ConversationState s, params FollowedEvent[] events)
    {
        var append = Assert.IsType<Decision.Append>(s.DecideFollowed(events, _ => null));
        var stamped = s.Stamp(append.Drafts, Now);
        return (stamped.Aggregate(s, (acc, e) => acc.Apply(e)), stamped);
    }

    [Fact]
    public void A_create_with_an_upstream_stores_the_binding_and_the_info_shows_it_without_the_key()
    {
        var s = Bound();
        Assert.Same(Binding, s.Upstream);
        Assert.Equal(new UpstreamView(Binding.Url, Binding.ConversationId), s.Info.Upstream);
        Assert.DoesNotContain("9", Binding.ToString().Replace(Binding.ConversationId, ""));
    }

    [Fact]
    public void Followed_events_keep_their_upstream_id_fields_and_time()
    {
        var at = new DateTime(2026, 8, 22, 16, 34, 54, 123, 456, DateTimeKind.Utc).AddTicks(7); // sub-microsecond dropped
        var (_, stored) = Follow(Bound(), Upstream("0b2b430f-dcc5-41a1-9da8-fb643aac0a59", at));

        var e = Assert.Single(stored);
        Assert.Equal("0b2b430f-dcc5-41a1-9da8-fb643aac0a59", e.Id);
        using var json = JsonDocument.Parse(e.Json);
        Assert.Equal("2026-08-22T16:34:54.123456", json.RootElement.GetProperty("timestamp").GetString());
        Assert.Equal("assistant", json.RootElement.GetProperty("llm_message").GetProperty("role").GetString());
        Assert.Equal("agent", json.RootElement.GetProperty("source").GetString());
    }

    [Fact]
    public void An_upstream_time_that_repeats_or_goes_back_moves_on_by_a_microsecond_so_times_stay_unique_and_ordered()
    {
        var t = new DateTime(2026, 8, 22, 16, 0, 0, DateTimeKind.Utc);
        var (s, first) = Follow(Bound(), Upstream(Guid.NewGuid().ToString(), t), Upstream(Guid.NewGuid().ToString(), t));
        var (_, second) = Follow(s, Upstream(Guid.NewGuid().ToString(), t.AddSeconds(-5)), Upstream(Guid.NewGuid().ToString(), null),
            Upstream(Guid.NewGuid().ToString(), t.AddSeconds(1)));

        var ticks = first.Concat(second).Select(e => e.TimestampTicks).ToArray();
        Assert.Equal([t.Ticks, t.Ticks + 10, t.Ticks + 20], ticks[..3]);
        Assert.Equal(Now.Ticks, ticks[3]); // no upstream time: this server's
        Assert.Equal(Now.Ticks + 10, ticks[4]); // an upstream time behind the log's last moves on
    }

    [Fact]
    public void Events_already_stored_or_repeated_in_the_batch_are_not_stored_again()
    {
        var s = Bound();
        var known = new HashSet<string> { "a" };
        var decision = Assert.IsType<Decision.Append>(s.DecideFollowed(
            [Upstream("a", Now), Upstream("b", Now), Upstream("b", Now), Upstream("c", Now)], id => known.Contains(id) ? 1 : null));
        Assert.Equal(["b", "c"], decision.Drafts.Select(d => d.Id));
    }

    [Fact]
    public void A_bound_conversation_refuses_agent_ingest_and_an_unbound_one_refuses_followed_events()
    {
        var ingest = Bound().DecideAppend([new IncomingEvent("X", "agent", null, "{}"u8.ToArray())], _ => null);
        Assert.Equal(ResultCode.Conflict, Assert.IsType<Decision.Refuse>(ingest).Code);

        var id = ConversationId.New();
        var plain = ConversationState.Empty(id).Apply(new ConversationEvents.Created(id, Dialect.V1, null, Now.Ticks, []));
        Assert.Equal(ResultCode.Conflict, Assert.IsType<Decision.Refuse>(plain.DecideFollowed([Upstream("a", Now)], _ => null)).Code);
        Assert.Equal(ResultCode.NotFound, Assert.IsType<Decision.Refuse>(ConversationState.Empty(id).DecideFollowed([Upstream("a", Now)], _ => null)).Code);
    }

    [Fact]
    public void A_repeated_create_naming_the_same_upstream_rebinds_its_key_and_any_other_upstream_is_a_conflict()
    {
        var s = Bound();
        var newKey = Binding with { ProtectedKey = [7] };
        var rebind = Assert.IsType<Decision.Store>(s.DecideCreate(new Create(s.Id, Dialect.V1, null, null, [1], newKey), Now));
        Assert.Equal(newKey, Assert.IsType<ConversationEvents.UpstreamBound>(rebind.Events[1]).Binding);
        Assert.IsType<Decision.Store>(s.DecideCreate(new Create(s.Id, Dialect.V1, null, null, [1]), Now)); // no upstream named: a key only

        var other = Binding with { ConversationId = Guid.NewGuid().ToString("D") };
        Assert.Equal(ResultCode.Conflict, Assert.IsType<Decision.Refuse>(s.DecideCreate(new Create(s.Id, Dialect.V1, null, null, [1], other), Now)).Code);
    }
}
