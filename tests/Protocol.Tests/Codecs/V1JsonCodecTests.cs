using System.Text;
using System.Text.Json;
using Akka.Sync.Protocol;
using Akka.Sync.Protocol.Codecs;
using Xunit;

namespace Akka.Sync.Protocol.Tests.Codecs;

/// <summary>The V1 codec on its own: events go out as stored, errors as ConversationErrorEvent, every inbound frame decodes to a value.</summary>
public sealed class V1JsonCodecTests
{
    private static readonly IFrameCodec Codec = V1JsonCodec.Instance;

    [Fact]
    public void An_event_is_its_stored_json_the_same_bytes_for_every_socket_replayed_or_live()
    {
        var json = """{"kind":"MessageEvent","id":"x","timestamp":"t","source":"agent"}"""u8.ToArray();
        var e = new EventEnvelope(ConversationId.New(), 1, "x", "MessageEvent", "agent", 0, json);
        Assert.Same(json, Codec.EncodeEvent(e, replay: true));
        Assert.Same(json, Codec.EncodeEvent(e, replay: false));
        Assert.Equal(Dialect.V1, Codec.Dialect);
    }

    [Fact]
    public void The_state_snapshot_is_sent_as_it_is()
    {
        var state = """{"kind":"ConversationStateUpdateEvent","key":"full_state"}"""u8.ToArray();
        Assert.Same(state, Codec.EncodeState(state));
    }

    [Fact]
    public void An_error_is_a_ConversationErrorEvent_from_the_environment_with_its_code_and_detail()
    {
        var frame = JsonDocument.Parse(Codec.EncodeError("bad_frame", "invalid JSON", new DateTime(2026, 12, 1, 10, 0, 0, DateTimeKind.Utc))).RootElement;
        Assert.Equal("ConversationErrorEvent", frame.GetProperty("kind").GetString());
        Assert.True(Guid.TryParse(frame.GetProperty("id").GetString(), out _));
        Assert.Equal("2026-12-01T10:00:00.000000", frame.GetProperty("timestamp").GetString());
        Assert.Equal("environment", frame.GetProperty("source").GetString());
        Assert.Equal("bad_frame", frame.GetProperty("code").GetString());
        Assert.Equal("invalid JSON", frame.GetProperty("detail").GetString());
    }

    [Fact]
    public void A_user_message_decodes_with_its_content_and_runs_by_default()
    {
        var frame = Assert.IsType<ClientFrame.Message>(Codec.Decode(
            """{"role":"user","content":[{"type":"text","text":"hi"},{"type":"image_url","image_url":{"url":"data:x"}}]}"""u8));
        Assert.True(frame.UserMessage.Run);
        using var content = JsonDocument.Parse(frame.UserMessage.ContentJson);
        Assert.Equal(2, content.RootElement.GetArrayLength());
        Assert.False(Assert.IsType<ClientFrame.Message>(Codec.Decode("""{"role":"user","content":[{"type":"text","text":"x"}],"run":false}"""u8)).UserMessage.Run);
    }

    [Fact]
    public void The_auth_frame_decodes_to_its_key()
    {
        Assert.Equal("k", Assert.IsType<ClientFrame.Auth>(Codec.Decode("""{"type":"auth","session_api_key":"k"}"""u8)).SessionApiKey);
    }

    [Theory]
    [InlineData("{broken", "invalid JSON")]
    [InlineData("[1,2]", "expected a JSON object")]
    [InlineData("""{"type":"auth"}""", "session_api_key")]
    [InlineData("""{"type":"auth","session_api_key":5}""", "session_api_key")]
    [InlineData("""{"role":"user"}""", "content")]
    [InlineData("""{"role":"user","content":"hi"}""", "content")]
    [InlineData("""{"hello":"world"}""", "role")]
    public void Every_unusable_frame_decodes_to_Bad_with_a_detail(string text, string detailPart)
    {
        var bad = Assert.IsType<ClientFrame.Bad>(Codec.Decode(Encoding.UTF8.GetBytes(text)));
        Assert.Contains(detailPart, bad.Detail);
        Assert.Null(bad.AckId);
    }

    [Fact]
    public void Invalid_utf8_decodes_to_Bad()
    {
        Assert.IsType<ClientFrame.Bad>(Codec.Decode([0x7B, 0xFF, 0x7D]));
    }
}
