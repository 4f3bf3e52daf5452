using System.Net.Sockets;
using System.Text;
using Akka.Sync.Gateway.Tests.Support;
using Xunit;

namespace Akka.Sync.Gateway.Tests;

/// <summary>CONTRACT §3: protocol pings. ClientWebSocket answers pings invisibly, so this reads raw frames.</summary>
public sealed class SocketPingTests
{
    [Fact]
    public async Task The_server_sends_protocol_pings_at_the_configured_interval()
    {
        await using var server = await SyncServer.StartAsync(new Dictionary<string, string?> { ["Limits:PingInterval"] = "00:00:00.300" });
        var id = await server.NewConversationAsync();
        using var tcp = new TcpClient();
        await tcp.ConnectAsync("127.0.0.1", server.BaseUri.Port);
        var stream = tcp.GetStream();
        stream.ReadTimeout = 15_000;
        var key = Convert.ToBase64String(Guid.NewGuid().ToByteArray());
        await stream.WriteAsync(Encoding.ASCII.GetBytes(
            $"GET /sockets/events/{id} HTTP/1.1\r\nHost: {server.BaseUri.Authority}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
            $"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"));
        var headers = await ReadHeaders(stream);
        Assert.StartsWith("HTTP/1.1 101", headers);

        var opcodes = new List<int>();
        using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(15));
        while (!opcodes.Contains(0x9))
            opcodes.Add(await ReadFrameOpcode(stream, deadline.Token));

        Assert.Equal(0x1, opcodes[0]); // full_state, a text frame
        Assert.Contains(0x9, opcodes);  // then a ping while nothing else happens
    }

    private static async Task<string> ReadHeaders(NetworkStream stream)
    {
        var bytes = new List<byte>();
        var one = new byte[1];
        while (bytes.Count < 4 || !(bytes[^4] == '\r' && bytes[^3] == '\n' && bytes[^2] == '\r' && bytes[^1] == '\n'))
        {
            if (await stream.ReadAsync(one) == 0) throw new IOException("connection closed during handshake");
            bytes.Add(one[0]);
        }
        return Encoding.ASCII.GetString(bytes.ToArray());
    }

    /// <summary>Reads one unmasked server frame and returns its opcode.</summary>
    private static async Task<int> ReadFrameOpcode(NetworkStream stream, CancellationToken ct)
    {
        var head = new byte[2];
        await stream.ReadExactlyAsync(head, ct);
        long length = head[1] & 0x7F;
        if (length == 126)
        {
            var ext = new byte[2];
            await stream.ReadExactlyAsync(ext, ct);
            length = (ext[0] << 8) | ext[1];
        }
        else if (length == 127)
        {
            var ext = new byte[8];
            await stream.ReadExactlyAsync(ext, ct);
            length = BitConverter.ToInt64(ext.Reverse().ToArray());
        }
        await stream.ReadExactlyAsync(new byte[length], ct);
        return head[0] & 0x0F;
    }
}
