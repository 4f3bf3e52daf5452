using System.Text;
using System.Text.Json;

namespace Akka.Sync.Protocol.V0;

/// <summary>Engine.IO v4 packet types (one packet per WebSocket text frame).</summary>
public enum EnginePacketType
{
    Open = 0,
    Close = 1,
    Ping = 2,
    Pong = 3,
    Message = 4,
    Upgrade = 5,
    Noop = 6,
}

/// <summary>
/// Engine.IO v4 framing over the WebSocket transport only: each text frame is a type digit followed by its data.
/// Pure framing, no session logic (that lives in the Gateway's Socket.IO endpoint).
/// </summary>
public static class EngineIo
{
    public const int ProtocolVersion = 4;

    /// <summary>Splits one text frame into its packet type and data; a clear error otherwise.</summary>
    public static bool TryDecode(ReadOnlySpan<byte> frame, out EnginePacketType type, out ReadOnlySpan<byte> data, out string error)
    {
        type = default;
        data = default;
        if (frame.IsEmpty) { error = "empty Engine.IO packet"; return false; }
        var t = frame[0] - (byte)'0';
        if (t is < 0 or > 6) { error = $"unknown Engine.IO packet type '{(char)frame[0]}'"; return false; }
        type = (EnginePacketType)t;
        data = frame[1..];
        error = "";
        return true;
    }

    /// <summary>The open packet: <c>0{"sid","upgrades":[],"pingInterval","pingTimeout","maxPayload"}</c>.</summary>
    public static byte[] Open(string sid, int pingIntervalMs, int pingTimeoutMs, int maxPayload)
    {
        using var ms = new MemoryStream();
        ms.WriteByte((byte)'0');
        using (var w = new Utf8JsonWriter(ms))
        {
            w.WriteStartObject();
            w.WriteString("sid"u8, sid);
            w.WriteStartArray("upgrades"u8);
            w.WriteEndArray();
            w.WriteNumber("pingInterval"u8, pingIntervalMs);
            w.WriteNumber("pingTimeout"u8, pingTimeoutMs);
            w.WriteNumber("maxPayload"u8, maxPayload);
            w.WriteEndObject();
        }
        return ms.ToArray();
    }

    public static readonly byte[] Ping = "2"u8.ToArray();
    public static readonly byte[] Pong = "3"u8.ToArray();
    public static readonly byte[] Close = "1"u8.ToArray();
    public static readonly byte[] Noop = "6"u8.ToArray();

    /// <summary>
    /// The answer to a ping: a pong carrying the ping's data, as Engine.IO asks. The upgrade probe <c>2probe</c> is
    /// answered <c>3probe</c>; a bare <c>2</c>, <c>3</c>.
    /// </summary>
    public static byte[] PongFor(ReadOnlySpan<byte> pingData)
    {
        if (pingData.IsEmpty) return Pong;
        var frame = new byte[pingData.Length + 1];
        frame[0] = (byte)'3';
        pingData.CopyTo(frame.AsSpan(1));
        return frame;
    }

    /// <summary>A message packet carrying a Socket.IO packet: <c>4</c> + payload.</summary>
    public static byte[] Message(ReadOnlySpan<byte> payload)
    {
        var frame = new byte[payload.Length + 1];
        frame[0] = (byte)'4';
        payload.CopyTo(frame.AsSpan(1));
        return frame;
    }

    public static string NewSid() =>
        Convert.ToBase64String(Guid.NewGuid().ToByteArray()).TrimEnd('=').Replace('+', '-').Replace('/', '_');

    internal static string Text(ReadOnlySpan<byte> bytes) => Encoding.UTF8.GetString(bytes);
}
