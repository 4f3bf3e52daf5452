using System.Text;
using System.Text.Json;
using Akka.Sync.Protocol.V0;
using Xunit;

namespace Akka.Sync.Protocol.Tests.V0;

public sealed class EngineIoTests
{
    [Theory]
    [InlineData("0{}", EnginePacketType.Open, "{}")]
    [InlineData("1", EnginePacketType.Close, "")]
    [InlineData("2", EnginePacketType.Ping, "")]
    [InlineData("3", EnginePacketType.Pong, "")]
    [InlineData("3probe", EnginePacketType.Pong, "probe")]
    [InlineData("40", EnginePacketType.Message, "0")]
    [InlineData("5", EnginePacketType.Upgrade, "")]
    [InlineData("6", EnginePacketType.Noop, "")]
    public void Every_packet_type_decodes(string frame, EnginePacketType type, string data)
    {
        Assert.True(EngineIo.TryDecode(Encoding.UTF8.GetBytes(frame), out var t, out var d, out _));
        Assert.Equal(type, t);
        Assert.Equal(data, Encoding.UTF8.GetString(d));
    }

    [Theory]
    [InlineData("2", "3")]
    [InlineData("2probe", "3probe")] // the upgrade probe
    public void A_ping_is_answered_with_a_pong_carrying_its_data(string ping, string pong)
    {
        Assert.True(EngineIo.TryDecode(Encoding.UTF8.GetBytes(ping), out var type, out var data, out _));
        Assert.Equal(EnginePacketType.Ping, type);
        Assert.Equal(pong, Encoding.UTF8.GetString(EngineIo.PongFor(data)));
    }

    [Theory]
    [InlineData("", "empty")]
    [InlineData("7", "unknown")]
    [InlineData("x", "unknown")]
    public void Malformed_packets_are_refused(string frame, string error)
    {
        Assert.False(EngineIo.TryDecode(Encoding.UTF8.GetBytes(frame), out _, out _, out var e));
        Assert.Contains(error, e);
    }

    [Fact]
    public void The_open_packet_has_the_python_engineio_fields()
    {
        var open = Encoding.UTF8.GetString(EngineIo.Open("abc", 25000, 20000, 4194304));
        Assert.StartsWith("0{", open);
        var json = JsonDocument.Parse(open[1..]).RootElement;
        Assert.Equal(["sid", "upgrades", "pingInterval", "pingTimeout", "maxPayload"], json.EnumerateObject().Select(p => p.Name));
        Assert.Equal(0, json.GetProperty("upgrades").GetArrayLength());
        Assert.Equal(25000, json.GetProperty("pingInterval").GetInt32());
        Assert.Equal(20000, json.GetProperty("pingTimeout").GetInt32());
        Assert.Equal(4194304, json.GetProperty("maxPayload").GetInt32());
    }

    [Fact]
    public void Sids_are_url_safe_and_unique()
    {
        var sids = Enumerable.Range(0, 100).Select(_ => EngineIo.NewSid()).ToList();
        Assert.Equal(100, sids.Distinct().Count());
        Assert.All(sids, s => Assert.Matches("^[A-Za-z0-9_-]{22}$", s));
    }
}

public sealed class SocketIoTests
{
    private static SocketPacket Decode(string packet)
    {
        Assert.True(SocketIo.TryDecode(Encoding.UTF8.GetBytes(packet), out var p, out var e), e);
        return p;
    }

    [Fact]
    public void Connect_without_and_with_an_auth_payload()
    {
        Assert.Equal(SocketPacketType.Connect, Decode("0").Type);
        Assert.Equal("/", Decode("0").Namespace);
        Assert.Equal("t", Decode("""0{"token":"t"}""").Data!.Value.GetProperty("token").GetString());
    }

    [Fact]
    public void Namespaces_and_ack_ids_are_read_before_the_payload()
    {
        var p = Decode("""2/admin,12["oh_user_action",{"action":"message"}]""");
        Assert.Equal(SocketPacketType.Event, p.Type);
        Assert.Equal("/admin", p.Namespace);
        Assert.Equal(12, p.AckId);
        Assert.Equal("oh_user_action", p.EventName);
        Assert.Equal("message", p.FirstArgument!.Value.GetProperty("action").GetString());
    }

    [Fact]
    public void Disconnect_and_ack_decode()
    {
        Assert.Equal(SocketPacketType.Disconnect, Decode("1").Type);
        var ack = Decode("37[1]");
        Assert.Equal(SocketPacketType.Ack, ack.Type);
        Assert.Equal(7, ack.AckId);
        Assert.Equal(SocketPacketType.ConnectError, Decode("""4{"message":"x"}""").Type);
    }

    [Theory]
    [InlineData("", "empty")]
    [InlineData("9", "unknown")]
    [InlineData("51-[\"x\",{\"_placeholder\":true,\"num\":0}]", "binary")]
    [InlineData("61-[]", "binary")]
    [InlineData("2{", "invalid JSON")]
    [InlineData("2{\"a\":1}", "array starting with the event name")]
    [InlineData("2[]", "array starting with the event name")]
    [InlineData("2[1,2]", "array starting with the event name")]
    [InlineData("2", "array starting with the event name")]
    [InlineData("0[1]", "CONNECT payload must be an object")]
    [InlineData("3{}", "ACK payload must be an array")]
    [InlineData("21234567890123456[\"x\"]", "ack id too long")]
    public void Malformed_packets_are_refused_with_a_reason(string packet, string error)
    {
        Assert.False(SocketIo.TryDecode(Encoding.UTF8.GetBytes(packet), out _, out var e));
        Assert.Contains(error, e);
    }

    [Fact]
    public void Nesting_deeper_than_64_is_refused() =>
        Assert.False(SocketIo.TryDecode(Encoding.UTF8.GetBytes("2[\"x\"," + new string('[', 100) + new string(']', 100) + "]"), out _, out _));

    [Fact]
    public void Server_frames_are_engine_messages_carrying_socket_packets()
    {
        Assert.Equal("""40{"sid":"s1"}""", Encoding.UTF8.GetString(SocketIo.ConnectFrame("s1")));
        Assert.Equal("""44{"message":"No conversation_id in query params"}""", Encoding.UTF8.GetString(SocketIo.ConnectErrorFrame("No conversation_id in query params")));
        Assert.Equal("""44{"message":"m","data":{"msg_id":"X"}}""", Encoding.UTF8.GetString(SocketIo.ConnectErrorFrame("m", new Dictionary<string, string> { ["msg_id"] = "X" })));
        Assert.Equal("""42["oh_event",{"id":1}]""", Encoding.UTF8.GetString(SocketIo.EventFrame("oh_event", """{"id":1}"""u8)));
        Assert.Equal("""435[{"ok":true}]""", Encoding.UTF8.GetString(SocketIo.AckFrame(5, """[{"ok":true}]"""u8)));
        Assert.Equal("41", Encoding.UTF8.GetString(SocketIo.DisconnectFrame));
        Assert.Equal("4x", Encoding.UTF8.GetString(EngineIo.Message("x"u8)));
    }

    [Fact]
    public void An_event_frame_decodes_back_to_its_name_and_argument()
    {
        var frame = SocketIo.EventFrame("oh_event", """{"id":3,"message":"é"}"""u8);
        Assert.True(EngineIo.TryDecode(frame, out var type, out var data, out _));
        Assert.Equal(EnginePacketType.Message, type);
        Assert.True(SocketIo.TryDecode(data, out var p, out _));
        Assert.Equal("oh_event", p.EventName);
        Assert.Equal("é", p.FirstArgument!.Value.GetProperty("message").GetString());
    }
}
