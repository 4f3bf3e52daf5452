using System.Text;
using System.Text.Json;
using Akka.Sync.Protocol;
using Akka.Sync.Protocol.Codecs;
using Akka.Sync.Protocol.V0;
using Xunit;

namespace Akka.Sync.Protocol.Tests.Codecs;

/// <summary>
/// The Engine.IO/Socket.IO codec on its own: events framed as <c>42["oh_event",…]</c> (once per event, relabelled live),
/// what the session sends, and every client packet decoded to a value.
/// </summary>
public sealed class SocketIoCodecTests
{
    private static readonly IFrameCodec Codec = SocketIoCodec.Instance;

    private static EventEnvelope Event(long seq, V0Incoming e) =>
        new(default, seq, seq.ToString(), e.Kind, e.Source, 0, V0Json.Compose(seq, "t", e));

    private static string Text(byte[] b) => Encoding.UTF8.GetString(b);

    [Fact]
    public void An_event_round_trips_through_the_socket_io_parser_as_an_oh_event_with_the_stored_json()
    {
        var e = Event(3, V0Json.UserMessage("hi"));
        var frame = Codec.EncodeEvent(e, replay: true);
        Assert.True(EngineIo.TryDecode(frame, out var type, out var data, out _));
        Assert.Equal(EnginePacketType.Message, type);
        Assert.True(SocketIo.TryDecode(data, out var packet, out _));
        Assert.Equal("oh_event", packet.EventName);
        Assert.Equal(JsonDocument.Parse(e.Json).RootElement.GetRawText(), packet.FirstArgument!.Value.GetRawText());
    }

    [Fact]
    public void Each_event_is_framed_once_per_node_and_live_relabels_what_OpenHands_relabels()
    {
        var state = Event(9, V0Json.AgentStateChanged(AgentState.Running));
        var message = Event(10, V0Json.UserMessage("hi"));
        Assert.Same(Codec.EncodeEvent(state, replay: true), Codec.EncodeEvent(state, replay: true));
        Assert.Same(Codec.EncodeEvent(state, replay: false), Codec.EncodeEvent(state, replay: false));
        Assert.Contains("\"source\":\"environment\"", Text(Codec.EncodeEvent(state, replay: true)));
        Assert.Contains("\"source\":\"agent\"", Text(Codec.EncodeEvent(state, replay: false)));
        Assert.Same(Codec.EncodeEvent(message, replay: true), Codec.EncodeEvent(message, replay: false));
    }

    [Fact]
    public void There_is_no_state_message_and_an_error_is_an_oh_event_with_error_true()
    {
        Assert.Null(Codec.EncodeState("{}"u8.ToArray()));
        Assert.Equal("42[\"oh_event\",{\"error\":true,\"message\":\"nope\"}]", Text(Codec.EncodeError("bad_frame", "nope", DateTime.UtcNow)));
        Assert.Equal(Dialect.V0, Codec.Dialect);
    }

    [Fact]
    public void What_the_session_sends_is_framed_as_engine_io_and_socket_io_expect()
    {
        var open = JsonDocument.Parse(Text(SocketIoCodec.Open("sid1", TimeSpan.FromSeconds(25), TimeSpan.FromSeconds(20), 1000))[1..]).RootElement;
        Assert.Equal("sid1", open.GetProperty("sid").GetString());
        Assert.Equal(25000, open.GetProperty("pingInterval").GetInt32());
        Assert.Equal(20000, open.GetProperty("pingTimeout").GetInt32());
        Assert.Equal(1000, open.GetProperty("maxPayload").GetInt32());
        Assert.Equal(0, open.GetProperty("upgrades").GetArrayLength());
        Assert.Equal("2", Text(SocketIoCodec.Ping));
        Assert.Equal("3", Text(SocketIoCodec.Pong));
        Assert.Equal("3probe", Text(SocketIoCodec.ProbePong));
        Assert.Equal("40{\"sid\":\"s\"}", Text(SocketIoCodec.ConnectAck("s")));
        Assert.Equal("44{\"message\":\"Conversation not found\"}", Text(SocketIoCodec.ConnectError("Conversation not found")));
        Assert.Equal("44/admin,{\"message\":\"Invalid namespace\"}", Text(SocketIoCodec.InvalidNamespace("/admin")));
        Assert.Equal("41", Text(SocketIoCodec.Disconnect));
        Assert.Equal("437[]", Text(SocketIoCodec.Ack(7, "[]"u8)));
    }

    [Theory]
    [InlineData("2", typeof(ClientFrame.Ping))]
    [InlineData("3", typeof(ClientFrame.Pong))]
    [InlineData("1", typeof(ClientFrame.Leave))]
    [InlineData("41", typeof(ClientFrame.Leave))]
    [InlineData("40", typeof(ClientFrame.Connect))]
    [InlineData("6", typeof(ClientFrame.Ignored))]
    [InlineData("5", typeof(ClientFrame.Ignored))]
    [InlineData("43[]", typeof(ClientFrame.Ignored))]
    public void Control_packets_decode_to_what_the_session_handles(string text, Type expected)
    {
        Assert.IsType(expected, Codec.Decode(Encoding.UTF8.GetBytes(text)));
    }

    [Fact]
    public void The_upgrade_probe_is_told_apart_from_a_ping_and_namespaces_are_kept()
    {
        Assert.True(Assert.IsType<ClientFrame.Ping>(Codec.Decode("2probe"u8)).Probe);
        Assert.False(Assert.IsType<ClientFrame.Ping>(Codec.Decode("2"u8)).Probe);
        Assert.Equal("/", Assert.IsType<ClientFrame.Connect>(Codec.Decode("40"u8)).Namespace);
        Assert.Equal("/admin", Assert.IsType<ClientFrame.Connect>(Codec.Decode("40/admin,"u8)).Namespace);
    }

    [Fact]
    public void A_user_action_decodes_as_a_user_sourced_v0_event_with_its_ack_id()
    {
        var action = Assert.IsType<ClientFrame.UserAction>(Codec.Decode("""4212["oh_user_action",{"action":"message","args":{"content":"hi"}}]"""u8));
        Assert.Equal(12, action.AckId);
        Assert.Equal(EventSources.User, action.Action.Source);
        Assert.Equal("action:message", action.Action.Kind);
        Assert.Null(Assert.IsType<ClientFrame.UserAction>(Codec.Decode("""42["oh_action",{"action":"message","args":{"content":"hi"}}]"""u8)).AckId);
    }

    [Theory]
    [InlineData("", "empty Engine.IO packet", null)]
    [InlineData("9", "unknown Engine.IO packet type", null)]
    [InlineData("0", "open packet", null)]
    [InlineData("4", "empty Socket.IO packet", null)]
    [InlineData("4x", "unknown Socket.IO packet type", null)]
    [InlineData("45-[\"a\"]", "binary", null)]
    [InlineData("42{broken", "invalid JSON", null)]
    [InlineData("42{}", "EVENT payload", null)]
    [InlineData("""423["other",{}]""", "unknown event 'other'", 3L)]
    [InlineData("""424["oh_user_action"]""", "needs an action object", 4L)]
    [InlineData("""425["oh_user_action",{"args":{}}]""", "action", 5L)]
    public void Every_unusable_packet_decodes_to_Bad_with_a_detail_and_the_ack_it_asked_for(string text, string detailPart, long? ackId)
    {
        var bad = Assert.IsType<ClientFrame.Bad>(Codec.Decode(Encoding.UTF8.GetBytes(text)));
        Assert.Contains(detailPart, bad.Detail);
        Assert.Equal(ackId, bad.AckId);
    }
}
