using System.Text;
using System.Text.Json;
using Akka.Sync.Protocol.V0;
using Xunit;

namespace Akka.Sync.Protocol.Tests.V0;

/// <summary>OpenHands <c>event_to_dict</c> shapes, validation, and the replay/live rules of CONTRACT §5.</summary>
public sealed class V0EventsTests
{
    private static V0Incoming Parse(string json, string? forcedSource = null)
    {
        Assert.True(V0Json.TryParse(JsonDocument.Parse(json).RootElement, forcedSource, out var e, out var error), error);
        return e;
    }

    private static JsonElement Stored(V0Incoming e, long id = 3) =>
        JsonDocument.Parse(V0Json.Compose(id, "2025-11-28T10:14:00.000001", e)).RootElement;

    [Fact]
    public void A_user_message_action_is_stored_with_the_MessageAction_defaults_in_event_to_dict_order()
    {
        var e = Parse("""{"action":"message","args":{"content":"hello","image_urls":[],"file_urls":[],"timestamp":"2025-01-01T00:00:00"}}""", "user");
        var json = Stored(e);

        Assert.Equal(["id", "timestamp", "source", "message", "action", "args"], json.EnumerateObject().Select(p => p.Name));
        Assert.Equal(3, json.GetProperty("id").GetInt64());
        Assert.Equal("user", json.GetProperty("source").GetString());
        Assert.Equal("hello", json.GetProperty("message").GetString());
        var args = json.GetProperty("args");
        Assert.Equal(["content", "image_urls", "file_urls", "wait_for_response", "security_risk"], args.EnumerateObject().Select(p => p.Name));
        Assert.False(args.GetProperty("wait_for_response").GetBoolean());
        Assert.Equal(-1, args.GetProperty("security_risk").GetInt32());
        Assert.Equal("action:message", e.Kind);
    }

    [Fact]
    public void Images_urls_is_renamed_to_image_urls()
    {
        var args = Stored(Parse("""{"action":"message","args":{"content":"x","images_urls":["u"]}}""", "user")).GetProperty("args");
        Assert.Equal("u", args.GetProperty("image_urls")[0].GetString());
        Assert.False(args.TryGetProperty("images_urls", out _));
    }

    [Fact]
    public void ChangeAgentStateAction_has_its_message_and_an_empty_thought()
    {
        var json = Stored(V0Json.ChangeAgentState(AgentState.Paused), id: 12);
        Assert.Equal("""{"id":12,"timestamp":"2025-11-28T10:14:00.000001","source":"user","message":"Agent state changed to paused","action":"change_agent_state","args":{"agent_state":"paused","thought":""}}""",
            json.GetRawText());
        var parsed = Stored(Parse("""{"action":"change_agent_state","args":{"agent_state":"stopped"}}""", "user"));
        Assert.Equal("Agent state changed to stopped", parsed.GetProperty("message").GetString());
        Assert.Equal("", parsed.GetProperty("args").GetProperty("thought").GetString());
    }

    [Fact]
    public void AgentStateChangedObservation_is_stored_from_the_environment_with_content_and_extras()
    {
        var json = Stored(V0Json.AgentStateChanged(AgentState.Paused), id: 13);
        Assert.Equal("""{"id":13,"timestamp":"2025-11-28T10:14:00.000001","source":"environment","message":"","observation":"agent_state_changed","content":"","extras":{"agent_state":"paused","reason":""}}""",
            json.GetRawText());
        Assert.Equal(AgentState.Paused, V0Json.AgentStateOf("observation:agent_state_changed", Encoding.UTF8.GetBytes(json.GetRawText())));
    }

    [Fact]
    public void Observations_keep_cause_metadata_content_extras_and_success_in_order()
    {
        var e = Parse("""{"observation":"run","source":"agent","cause":4,"message":"ran","content":"out","extras":{"exit_code":0},"success":true,"llm_metrics":{"accumulated_cost":0},"tool_call_metadata":{"function_name":"f"}}""");
        var json = Stored(e);
        Assert.Equal(["id", "timestamp", "source", "message", "cause", "observation", "tool_call_metadata", "llm_metrics", "content", "extras", "success"],
            json.EnumerateObject().Select(p => p.Name));
        Assert.Equal(4, json.GetProperty("cause").GetInt64());
        Assert.Equal("agent", json.GetProperty("source").GetString());
    }

    [Fact]
    public void Other_actions_pass_through_with_their_args_and_timeout()
    {
        var json = Stored(Parse("""{"action":"run","source":"agent","args":{"command":"ls","hidden":false},"timeout":30}"""));
        Assert.Equal("ls", json.GetProperty("args").GetProperty("command").GetString());
        Assert.Equal(30, json.GetProperty("timeout").GetInt32());
        Assert.Equal("", json.GetProperty("message").GetString());
    }

    [Theory]
    [InlineData("""{"source":"agent"}""", "exactly one of action or observation")]
    [InlineData("""{"action":"run","observation":"run","source":"agent"}""", "exactly one")]
    [InlineData("""{"action":"","source":"agent"}""", "non-empty string")]
    [InlineData("""{"action":5,"source":"agent"}""", "non-empty string")]
    [InlineData("""{"action":"run"}""", "source")]
    [InlineData("""{"action":"run","source":"robot"}""", "source")]
    [InlineData("""{"action":"run","source":"agent","args":[]}""", "args must be an object")]
    [InlineData("""{"action":"run","source":"agent","cause":"x"}""", "cause")]
    [InlineData("""{"action":"run","source":"agent","message":3}""", "message")]
    [InlineData("""{"action":"run","source":"agent","timeout":"long"}""", "timeout")]
    [InlineData("""{"action":"message","source":"user","args":{}}""", "args.content")]
    [InlineData("""{"action":"change_agent_state","source":"user","args":{"agent_state":"dancing"}}""", "agent_state")]
    [InlineData("""{"observation":"run","source":"agent","content":5}""", "content")]
    [InlineData("""{"observation":"run","source":"agent","extras":"x"}""", "extras")]
    [InlineData("""{"observation":"agent_state_changed","source":"environment","extras":{}}""", "agent_state")]
    [InlineData("""{"observation":"run","source":"agent","success":"yes"}""", "success")]
    [InlineData("""{"observation":"run","source":"agent","llm_metrics":[1]}""", "llm_metrics")]
    [InlineData("""[1]""", "event object")]
    public void Bad_events_are_refused_with_a_reason(string json, string reason)
    {
        Assert.False(V0Json.TryParse(JsonDocument.Parse(json).RootElement, null, out _, out var error));
        Assert.Contains(reason, error);
    }

    [Fact]
    public void A_socket_action_is_always_from_the_user_whatever_it_claims()
    {
        var e = Parse("""{"action":"message","source":"agent","args":{"content":"x"}}""", forcedSource: "user");
        Assert.Equal("user", e.Source);
    }

    [Theory]
    [InlineData("action:null", true)]
    [InlineData("observation:null", true)]
    [InlineData("action:recall", true)]
    [InlineData("observation:recall", false)]
    [InlineData("action:message", false)]
    public void Replay_skips_null_events_and_recall_actions(string kind, bool skipped) =>
        Assert.Equal(skipped, V0Json.SkippedInReplay(kind));

    [Fact]
    public void Replay_holds_back_only_agent_state_changed() =>
        Assert.Equal(["observation:agent_state_changed"],
            new[] { "observation:agent_state_changed", "action:change_agent_state", "observation:run" }.Where(V0Json.HeldBackInReplay));

    [Theory]
    [InlineData("observation:run", "environment", true)]
    [InlineData("observation:agent_state_changed", "environment", true)]
    [InlineData("observation:recall", "environment", true)]
    [InlineData("observation:error", "user", true)]
    [InlineData("observation:error", "environment", true)]
    [InlineData("observation:run", "agent", false)]
    [InlineData("observation:read", "environment", false)]
    [InlineData("action:run", "environment", false)]
    public void Live_relabels_the_observations_OpenHands_relabels(string kind, string source, bool relabelled) =>
        Assert.Equal(relabelled, V0Json.RelabelledLive(kind, source));

    [Fact]
    public void The_live_copy_changes_only_the_top_level_source()
    {
        var stored = Encoding.UTF8.GetBytes("""{"id":1,"timestamp":"t","source":"environment","message":"","observation":"run","content":"","extras":{"source":"environment"}}""");
        var live = Encoding.UTF8.GetString(V0Json.WithAgentSource(stored));
        Assert.Equal("""{"id":1,"timestamp":"t","source":"agent","message":"","observation":"run","content":"","extras":{"source":"environment"}}""", live);
        var user = Encoding.UTF8.GetBytes("""{"id":2,"timestamp":"t","source":"user","message":"","observation":"error","content":"x","extras":{}}""");
        Assert.Contains("\"source\":\"agent\"", Encoding.UTF8.GetString(V0Json.WithAgentSource(user)));
    }

    [Theory]
    [InlineData("""[{"action":"message","args":{"content":"hi"}}]""", true)]
    [InlineData("""[{"id":3,"args":{"kind":"nested, not the item's"},"observation":"run","content":""}]""", true)]
    [InlineData("""[{"action":"message"},{"kind":"MessageEvent"}]""", true)] // the first item decides
    [InlineData("""[{"action":"message"}, this is not JSON""", true)] // decided early; the batch parser answers the rest
    [InlineData("""[{"kind":"MessageEvent","action":"message"}]""", false)]
    [InlineData("""[{"action":"message","kind":"MessageEvent"}]""", false)]
    [InlineData("""[{"kind":"MessageEvent","source":"agent"}]""", false)]
    [InlineData("""[{"args":{"action":"nested"}}]""", false)]
    [InlineData("""[{"action":"message" """, false)]
    [InlineData("""[]""", false)]
    [InlineData("""[1,{"action":"message"}]""", false)]
    [InlineData("""{"action":"message"}""", false)]
    [InlineData("", false)]
    public void A_batch_is_taken_for_V0_when_its_first_item_has_action_or_observation_and_no_kind(string body, bool v0) =>
        Assert.Equal(v0, V0Json.LooksLikeV0Batch(Encoding.UTF8.GetBytes(body)));
}
