using System.Buffers;
using System.Text.Json;
using Akka.Sync.Protocol.V1;

namespace Akka.Sync.Protocol.V0;

/// <summary>Socket.IO v5 packet types.</summary>
public enum SocketPacketType
{
    Connect = 0,
    Disconnect = 1,
    Event = 2,
    Ack = 3,
    ConnectError = 4,
    BinaryEvent = 5,
    BinaryAck = 6,
}

/// <summary>One decoded Socket.IO packet. <see cref="Data"/> is its JSON payload, if any (owned by the caller).</summary>
public sealed record SocketPacket(SocketPacketType Type, string Namespace, long? AckId, JsonElement? Data)
{
    /// <summary>For an EVENT: the event name (first array element).</summary>
    public string? EventName => Type == SocketPacketType.Event && Data is { ValueKind: JsonValueKind.Array } d
        && d.GetArrayLength() > 0 && d[0].ValueKind == JsonValueKind.String ? d[0].GetString() : null;

    /// <summary>For an EVENT: the first argument after the name.</summary>
    public JsonElement? FirstArgument => Type == SocketPacketType.Event && Data is { ValueKind: JsonValueKind.Array } d
        && d.GetArrayLength() > 1 ? d[1] : null;
}

/// <summary>
/// Socket.IO v5 packet encoding (<c>type[attachments-][/nsp,][ackId][json]</c>), as socket.io-parser does it.
/// Binary packets are refused: OpenHands never sends them and this server speaks JSON only.
/// </summary>
public static class SocketIo
{
    public const string DefaultNamespace = "/";
    private static readonly JsonDocumentOptions DocOptions = new() { MaxDepth = 64 };

    public static bool TryDecode(ReadOnlySpan<byte> packet, out SocketPacket result, out string error)
    {
        result = null!;
        if (packet.IsEmpty) { error = "empty Socket.IO packet"; return false; }
        if (!JsonBatch.IsValidUtf8(packet, out error)) return false;
        var t = packet[0] - (byte)'0';
        if (t is < 0 or > 6) { error = $"unknown Socket.IO packet type '{(char)packet[0]}'"; return false; }
        var type = (SocketPacketType)t;
        if (type is SocketPacketType.BinaryEvent or SocketPacketType.BinaryAck)
        {
            error = "binary Socket.IO packets are not supported";
            return false;
        }
        var i = 1;
        var nsp = DefaultNamespace;
        if (i < packet.Length && packet[i] == (byte)'/')
        {
            var comma = packet[i..].IndexOf((byte)',');
            var end = comma < 0 ? packet.Length : i + comma;
            nsp = EngineIo.Text(packet[i..end]);
            i = comma < 0 ? packet.Length : end + 1;
        }
        long? ackId = null;
        var digitsStart = i;
        while (i < packet.Length && packet[i] is >= (byte)'0' and <= (byte)'9') i++;
        if (i > digitsStart)
        {
            if (i - digitsStart > 15) { error = "ack id too long"; return false; }
            ackId = long.Parse(EngineIo.Text(packet[digitsStart..i]));
        }
        JsonElement? data = null;
        if (i < packet.Length)
        {
            try
            {
                using var doc = JsonDocument.Parse(packet[i..].ToArray(), DocOptions);
                data = doc.RootElement.Clone();
            }
            catch (JsonException e)
            {
                error = $"invalid JSON payload: {e.Message}";
                return false;
            }
        }
        switch (type)
        {
            case SocketPacketType.Event when data is not { ValueKind: JsonValueKind.Array } d || d.GetArrayLength() == 0 || d[0].ValueKind != JsonValueKind.String:
                error = "an EVENT payload must be an array starting with the event name";
                return false;
            case SocketPacketType.Connect when data is { ValueKind: not JsonValueKind.Object }:
                error = "a CONNECT payload must be an object";
                return false;
            case SocketPacketType.Ack when data is not { ValueKind: JsonValueKind.Array }:
                error = "an ACK payload must be an array";
                return false;
        }
        result = new SocketPacket(type, nsp, ackId, data);
        error = "";
        return true;
    }

    /// <summary>Engine.IO message frame of a Socket.IO CONNECT answer: <c>40{"sid":…}</c>.</summary>
    public static byte[] ConnectFrame(string sid) => Frame(SocketPacketType.Connect, w =>
    {
        w.WriteStartObject();
        w.WriteString("sid"u8, sid);
        w.WriteEndObject();
    });

    /// <summary>A refusal: <c>44{"message":…}</c>, with <c>data</c> when given.</summary>
    public static byte[] ConnectErrorFrame(string message, IReadOnlyDictionary<string, string>? data = null) =>
        Frame(SocketPacketType.ConnectError, w =>
        {
            w.WriteStartObject();
            w.WriteString("message"u8, message);
            if (data is not null)
            {
                w.WriteStartObject("data"u8);
                foreach (var (k, v) in data) w.WriteString(k, v);
                w.WriteEndObject();
            }
            w.WriteEndObject();
        });

    public static readonly byte[] DisconnectFrame = "41"u8.ToArray();

    /// <summary><c>42["name",arg]</c> with the argument's JSON bytes spliced in as they are.</summary>
    public static byte[] EventFrame(string name, ReadOnlySpan<byte> argumentJson)
    {
        var nameJson = JsonSerializer.SerializeToUtf8Bytes(name);
        var frame = new byte[2 + 1 + nameJson.Length + 1 + argumentJson.Length + 1];
        var at = 0;
        frame[at++] = (byte)'4';
        frame[at++] = (byte)'2';
        frame[at++] = (byte)'[';
        nameJson.CopyTo(frame.AsSpan(at));
        at += nameJson.Length;
        frame[at++] = (byte)',';
        argumentJson.CopyTo(frame.AsSpan(at));
        at += argumentJson.Length;
        frame[at] = (byte)']';
        return frame;
    }

    /// <summary>An ack for a client event that asked for one: <c>43&lt;id&gt;[args]</c>.</summary>
    public static byte[] AckFrame(long ackId, ReadOnlySpan<byte> argumentsArrayJson)
    {
        var head = System.Text.Encoding.ASCII.GetBytes($"43{ackId}");
        var frame = new byte[head.Length + argumentsArrayJson.Length];
        head.CopyTo(frame, 0);
        argumentsArrayJson.CopyTo(frame.AsSpan(head.Length));
        return frame;
    }

    private static byte[] Frame(SocketPacketType type, Action<Utf8JsonWriter> payload)
    {
        var buffer = new ArrayBufferWriter<byte>(64);
        buffer.Write([(byte)'4', (byte)('0' + (int)type)]);
        using (var w = new Utf8JsonWriter(buffer, V1Json.WriterOptions)) payload(w);
        return buffer.WrittenSpan.ToArray();
    }
}
