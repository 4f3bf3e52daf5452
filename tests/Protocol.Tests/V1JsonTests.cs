using System.Text;
using System.Text.Json;
using Akka.Sync.Protocol.V1;
using Xunit;

namespace Akka.Sync.Protocol.Tests;

public sealed class V1JsonTests
{
    private static JsonElement Json(byte[] bytes) => JsonDocument.Parse(bytes).RootElement;

    [Fact]
    public void Compose_puts_the_base_fields_first_then_the_body_in_order()
    {
        var json = V1Json.Compose("K", "i", "2026-01-01T00:00:00.000000", "agent", """{ "z": 1, "a": [1,2] }"""u8);
        Assert.Equal(["kind", "id", "timestamp", "source", "z", "a"], Json(json).EnumerateObject().Select(p => p.Name));
    }

    [Fact]
    public void Compose_of_an_empty_body_is_the_base_fields_only()
    {
        var json = V1Json.Compose("PauseEvent", "i", "t", "user", V1Json.EmptyBody);
        Assert.Equal("""{"kind":"PauseEvent","id":"i","timestamp":"t","source":"user"}""", Encoding.UTF8.GetString(json));
    }

    [Fact]
    public void Compose_refuses_a_body_that_is_not_an_object() =>
        Assert.Throws<ArgumentException>(() => V1Json.Compose("K", "i", "t", "agent", "[1]"u8));

    [Fact]
    public void A_message_body_has_the_sdk_llm_message_shape()
    {
        var body = Json(V1Json.MessageBody("user", V1Json.TextContent("hello")));
        var llm = body.GetProperty("llm_message");
        Assert.Equal("user", llm.GetProperty("role").GetString());
        Assert.Equal("hello", llm.GetProperty("content")[0].GetProperty("text").GetString());
        Assert.Equal(JsonValueKind.Null, body.GetProperty("llm_response_id").ValueKind);
        Assert.Equal(JsonValueKind.Array, body.GetProperty("activated_skills").ValueKind);
    }

    [Fact]
    public void Full_state_carries_the_conversation_fields_under_value()
    {
        var id = ConversationId.New();
        var created = new DateTime(2026, 1, 2, 3, 4, 5, DateTimeKind.Utc);
        var info = new ConversationInfo(id, Dialect.V1, "t", ExecutionStatus.Paused, created.Ticks, created.AddMinutes(1).Ticks, 7);
        var e = Json(V1Json.FullState(info, DateTime.UtcNow));
        Assert.Equal("ConversationStateUpdateEvent", e.GetProperty("kind").GetString());
        Assert.Equal("environment", e.GetProperty("source").GetString());
        Assert.Equal("full_state", e.GetProperty("key").GetString());
        var v = e.GetProperty("value");
        Assert.Equal(id.Hex, v.GetProperty("id").GetString());
        Assert.Equal("paused", v.GetProperty("execution_status").GetString());
        Assert.Equal("t", v.GetProperty("title").GetString());
        Assert.Equal("2026-01-02T03:04:05.000000", v.GetProperty("created_at").GetString());
        Assert.Equal("2026-01-02T03:05:05.000000", v.GetProperty("updated_at").GetString());
    }

    [Fact]
    public void An_error_frame_is_a_ConversationErrorEvent_with_code_and_detail()
    {
        var e = Json(V1Json.ErrorFrame("bad_frame", "why", DateTime.UtcNow));
        Assert.Equal("ConversationErrorEvent", e.GetProperty("kind").GetString());
        Assert.Equal("environment", e.GetProperty("source").GetString());
        Assert.Equal("bad_frame", e.GetProperty("code").GetString());
        Assert.Equal("why", e.GetProperty("detail").GetString());
        Assert.True(Guid.TryParse(e.GetProperty("id").GetString(), out _));
    }

    [Fact]
    public void Interpretation_reads_status_updates_actions_and_their_answers()
    {
        Assert.Equal(ExecutionStatus.Stuck, V1Interpretation.Of("ConversationStateUpdateEvent", "i",
            """{"key":"execution_status","value":"stuck"}"""u8).Status);
        Assert.Null(V1Interpretation.Of("ConversationStateUpdateEvent", "i", """{"key":"stats","value":{}}"""u8).Status);
        var opened = V1Interpretation.Of("ActionEvent", "a1", """{"tool_name":"t","tool_call_id":"c"}"""u8).OpensAction;
        Assert.Equal(new PendingAction("a1", "t", "c"), opened);
        Assert.Equal("a1", V1Interpretation.Of("ObservationEvent", "o", """{"action_id":"a1"}"""u8).ClosesActionId);
        Assert.Equal("c", V1Interpretation.Of("AgentErrorEvent", "o", """{"tool_call_id":"c"}"""u8).ClosesToolCallId);
        Assert.Equal("a1", V1Interpretation.Of("UserRejectObservation", "o", """{"action_id":"a1"}"""u8).ClosesActionId);
        Assert.Equal(default, V1Interpretation.Of("MessageEvent", "m", "not even json"u8));
    }
}
