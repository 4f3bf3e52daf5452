using System.Buffers;
using System.Net.WebSockets;

namespace Akka.Sync.Gateway.Transport;

public enum MessageKind { Text, Binary, TooBig, Closed, Gone }

/// <summary>One whole inbound WebSocket message, or why there is none.</summary>
public readonly record struct InboundMessage(MessageKind Kind, byte[] Payload);

/// <summary>
/// The inbound half of a socket's transport: reads whole WebSocket messages up to the size bound
/// (<c>Limits:MaxFrameBytes</c>), whatever the dialect.
/// </summary>
/// <remarks>
/// An idle socket always has a read pending, so what that read holds is paid per connection: a 512-byte buffer, and
/// the buffer for a message of several chunks only once a second chunk arrives (it was 4 KiB + 1 KiB per socket;
/// docs/benchmarks.md, "idle sockets").
/// </remarks>
public sealed class MessageReader(WebSocket socket, int maxBytes)
{
    private readonly byte[] _buffer = new byte[512];
    private Task<InboundMessage>? _unfinished;

    public long MessagesRead { get; private set; }

    /// <summary>The close code the client sent, once it closed.</summary>
    public int? ClientCloseCode { get; private set; }

    /// <summary>
    /// Reads the next message within <paramref name="timeout"/>; null when none came in time. The read goes on and the
    /// next <see cref="ReadAsync"/> finishes it (a socket has one read at a time).
    /// </summary>
    public async Task<InboundMessage?> ReadAsync(TimeSpan timeout)
    {
        var read = ReadAsync();
        if (await Task.WhenAny(read, Task.Delay(timeout)).ConfigureAwait(false) == read) return await read;
        _unfinished = read;
        return null;
    }

    /// <summary>Hands a message back: the next <see cref="ReadAsync()"/> returns it again (a session that looked at it first).</summary>
    public void PushBack(InboundMessage message) => _unfinished = Task.FromResult(message);

    public async Task<InboundMessage> ReadAsync()
    {
        if (_unfinished is { } unfinished)
        {
            _unfinished = null;
            return await unfinished;
        }
        ArrayBufferWriter<byte>? message = null;
        try
        {
            while (true)
            {
                // The Memory overload: a ValueTask, no Task and task source held per idle socket.
                var result = await socket.ReceiveAsync(_buffer.AsMemory(), CancellationToken.None);
                if (result.MessageType == WebSocketMessageType.Close)
                {
                    ClientCloseCode = socket.CloseStatus is { } code ? (int)code : null;
                    return new InboundMessage(MessageKind.Closed, []);
                }
                if ((message?.WrittenCount ?? 0) + result.Count > maxBytes) return new InboundMessage(MessageKind.TooBig, []);
                var kind = result.MessageType == WebSocketMessageType.Binary ? MessageKind.Binary : MessageKind.Text;
                if (result.EndOfMessage && message is null)
                {
                    MessagesRead++;
                    return new InboundMessage(kind, _buffer.AsSpan(0, result.Count).ToArray());
                }
                message ??= new ArrayBufferWriter<byte>(4096);
                message.Write(_buffer.AsSpan(0, result.Count));
                if (!result.EndOfMessage) continue;
                MessagesRead++;
                return new InboundMessage(kind, message.WrittenSpan.ToArray());
            }
        }
        catch (Exception e) when (e is WebSocketException or OperationCanceledException or ObjectDisposedException)
        {
            return new InboundMessage(MessageKind.Gone, []);
        }
    }

    /// <summary>After the server closed: read (and discard) until the client's close arrives or the socket dies.</summary>
    public async Task DrainUntilClosed()
    {
        try
        {
            while (socket.State is WebSocketState.Open or WebSocketState.CloseSent)
            {
                var result = await socket.ReceiveAsync(_buffer, CancellationToken.None);
                if (result.MessageType == WebSocketMessageType.Close) return;
            }
        }
        catch (Exception e) when (e is WebSocketException or OperationCanceledException or ObjectDisposedException)
        {
        }
    }
}
