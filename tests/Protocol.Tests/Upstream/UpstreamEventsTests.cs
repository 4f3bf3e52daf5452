using System.Text;
using System.Text.Json;
using Akka.Sync.Protocol;
using Xunit;

namespace Akka.Sync.Protocol.Tests.Upstream;

/// <summary>What a follower makes of each frame an agent server sends.</summary>
public sealed class UpstreamEventsTests
{
    private static UpstreamFrameKind Classify(string json, out FollowedEvent? e) => UpstreamEvents.Classify(Encoding.UTF8.GetBytes(json), out e, out _);

    [Fact]
    public void An_agent_server_event_is_kept_whole_with_its_id_source_and_naive_time()
    {
        var kind = Classify("""{"id":"0B2B430F-DCC5-41A1-9DA8-FB643AAC0A59","timestamp":"2026-08-22T16:34:54.123456","source":"hook","hook_event_type":"PreToolUse","tool_name":null,"kind":"HookExecutionEvent"}""", out var e);
        Assert.Equal(UpstreamFrameKind.Event, kind);
        Assert.Equal("0b2b430f-dcc5-41a1-9da8-fb643aac0a59", e!.Id);
        Assert.Equal(("HookExecutionEvent", "hook"), (e.Kind, e.Source));
        Assert.Equal(new DateTime(2026, 8, 22, 16, 34, 54, 123, DateTimeKind.Utc).AddTicks(4560).Ticks, e.TimestampTicks);
        Assert.Equal("""{"hook_event_type":"PreToolUse","tool_name":null}""", Encoding.UTF8.GetString(e.Body));
    }

    [Fact]
    public void A_time_without_microseconds_or_with_an_offset_reads_as_utc_and_a_missing_one_as_none()
    {
        Classify("""{"id":"0b2b430f-dcc5-41a1-9da8-fb643aac0a59","timestamp":"2026-08-22T16:34:54","source":"agent","kind":"PauseEvent"}""", out var whole);
        Assert.Equal(new DateTime(2026, 8, 22, 16, 34, 54, DateTimeKind.Utc).Ticks, whole!.TimestampTicks);
        Classify("""{"id":"0b2b430f-dcc5-41a1-9da8-fb643aac0a59","timestamp":"2026-08-22T18:34:54+02:00","source":"agent","kind":"PauseEvent"}""", out var offset);
        Assert.Equal(whole.TimestampTicks, offset!.TimestampTicks);
        Classify("""{"id":"0b2b430f-dcc5-41a1-9da8-fb643aac0a59","source":"agent","kind":"PauseEvent"}""", out var none);
        Assert.Null(none!.TimestampTicks);
    }

    [Theory]
    [InlineData("""{"id":"x","timestamp":"t","source":"environment","key":"full_state","value":{"execution_status":"idle"},"kind":"ConversationStateUpdateEvent"}""", UpstreamFrameKind.State)]
    [InlineData("""{"id":"0b2b430f-dcc5-41a1-9da8-fb643aac0a59","source":"environment","key":"execution_status","value":"running","kind":"ConversationStateUpdateEvent"}""", UpstreamFrameKind.Event)]
    [InlineData("""{"id":"x","source":"agent","content":"tok","kind":"StreamingDeltaEvent"}""", UpstreamFrameKind.Transient)]
    [InlineData("""{"id":"x","source":"environment","code":"ValueError","detail":"bad","kind":"ServerErrorEvent"}""", UpstreamFrameKind.Transient)]
    [InlineData("""{"id":"not-a-uuid","source":"agent","kind":"MessageEvent"}""", UpstreamFrameKind.Invalid)]
    [InlineData("""{"id":"0b2b430f-dcc5-41a1-9da8-fb643aac0a59","source":"","kind":"MessageEvent"}""", UpstreamFrameKind.Invalid)]
    [InlineData("""{"id":"0b2b430f-dcc5-41a1-9da8-fb643aac0a59","source":"agent"}""", UpstreamFrameKind.Invalid)]
    [InlineData("""[1,2]""", UpstreamFrameKind.Invalid)]
    [InlineData("""{"id":""", UpstreamFrameKind.Invalid)]
    public void Frames_are_events_to_store_the_subscription_signal_transient_or_invalid(string json, UpstreamFrameKind expected) =>
        Assert.Equal(expected, Classify(json, out _));

    [Fact]
    public void A_view_shows_where_the_conversation_follows_and_the_link_never_a_key()
    {
        var json = Akka.Sync.Protocol.V1.V1Json.Write(w =>
        {
            w.WriteStartObject();
            UpstreamEvents.WriteView(w, new UpstreamView("http://u:8000", "c", new UpstreamLinkStatus("live", true, 2, 0.5, 1, 10, "e", null)));
            w.WriteEndObject();
        });
        using var doc = JsonDocument.Parse(json);
        var up = doc.RootElement.GetProperty("upstream");
        Assert.Equal(["url", "conversation_id", "state", "connected", "lag_events", "lag_seconds", "reconnects", "events_followed", "last_event_id", "last_error"],
            up.EnumerateObject().Select(p => p.Name));
    }
}
