using System.Buffers.Binary;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Text;

namespace Akka.Sync.Gateway.Tests.Support;

/// <summary>
/// A WebSocket client on a bare TCP connection, for what <see cref="System.Net.WebSockets.ClientWebSocket"/> hides:
/// control frames (it answers pings by itself), when each frame arrived, and how the connection ended.
/// </summary>
public sealed class RawWebSocket : IDisposable
{
    public const int Text = 0x1, Close = 0x8, Ping = 0x9, Pong = 0xA;

    private readonly TcpClient _tcp;
    private readonly NetworkStream _stream;

    private RawWebSocket(TcpClient tcp)
    {
        _tcp = tcp;
        _stream = tcp.GetStream();
    }

    /// <summary>One server frame: its opcode, payload and when its first byte had been read.</summary>
    public sealed record Frame(int Opcode, byte[] Payload, TimeSpan At);

    /// <summary>Opens the TCP connection and upgrades <paramref name="pathAndQuery"/>; throws unless answered 101.</summary>
    public static async Task<RawWebSocket> ConnectAsync(Uri server, string pathAndQuery)
    {
        var tcp = new TcpClient();
        try
        {
            await tcp.ConnectAsync(server.Host, server.Port);
            var socket = new RawWebSocket(tcp);
            var key = Convert.ToBase64String(Guid.NewGuid().ToByteArray());
            await socket._stream.WriteAsync(Encoding.ASCII.GetBytes(
                $"GET {pathAndQuery} HTTP/1.1\r\nHost: {server.Authority}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
                $"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"));
            var headers = await socket.ReadHeadersAsync();
            if (!headers.StartsWith("HTTP/1.1 101", StringComparison.Ordinal)) throw new InvalidOperationException($"upgrade refused: {headers}");
            return socket;
        }
        catch
        {
            tcp.Dispose();
            throw;
        }
    }

    private async Task<string> ReadHeadersAsync()
    {
        using var cts = new CancellationTokenSource(TestSocket.DefaultTimeout);
        var bytes = new List<byte>();
        var one = new byte[1];
        while (bytes.Count < 4 || !(bytes[^4] == '\r' && bytes[^3] == '\n' && bytes[^2] == '\r' && bytes[^1] == '\n'))
        {
            if (await _stream.ReadAsync(one, cts.Token) == 0) throw new IOException("connection closed during handshake");
            bytes.Add(one[0]);
        }
        return Encoding.ASCII.GetString(bytes.ToArray());
    }

    /// <summary>
    /// The next (unmasked, unfragmented) server frame, or null once the server ended the TCP connection, by FIN or by
    /// reset, before a frame began. <paramref name="clock"/> stamps the frame when its first bytes were read.
    /// </summary>
    public async Task<Frame?> ReadFrameAsync(System.Diagnostics.Stopwatch clock, CancellationToken ct)
    {
        var head = new byte[2];
        try
        {
            if (await _stream.ReadAsync(head.AsMemory(0, 1), ct) == 0) return null;
        }
        catch (IOException e) when (e.InnerException is SocketException)
        {
            return null; // reset
        }
        var at = clock.Elapsed;
        await _stream.ReadExactlyAsync(head.AsMemory(1, 1), ct);
        long length = head[1] & 0x7F;
        if (length == 126)
        {
            var ext = new byte[2];
            await _stream.ReadExactlyAsync(ext, ct);
            length = BinaryPrimitives.ReadUInt16BigEndian(ext);
        }
        else if (length == 127)
        {
            var ext = new byte[8];
            await _stream.ReadExactlyAsync(ext, ct);
            length = BinaryPrimitives.ReadInt64BigEndian(ext);
        }
        var payload = new byte[length];
        await _stream.ReadExactlyAsync(payload, ct);
        return new Frame(head[0] & 0x0F, payload, at);
    }

    /// <summary>Sends one masked client frame (as every client frame must be).</summary>
    public async Task SendAsync(int opcode, byte[] payload)
    {
        if (payload.Length > 125) throw new ArgumentException("only short frames", nameof(payload));
        var frame = new byte[2 + 4 + payload.Length];
        frame[0] = (byte)(0x80 | opcode);
        frame[1] = (byte)(0x80 | payload.Length);
        RandomNumberGenerator.Fill(frame.AsSpan(2, 4));
        for (var i = 0; i < payload.Length; i++) frame[6 + i] = (byte)(payload[i] ^ frame[2 + i % 4]);
        await _stream.WriteAsync(frame);
    }

    public void Dispose() => _tcp.Dispose();
}
