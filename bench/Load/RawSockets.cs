using System.Buffers;
using System.Buffers.Text;
using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace Akka.Sync.Bench.Load;

/// <summary>
/// A minimal V1 WebSocket client over a plain <see cref="Socket"/>, for tens of thousands of sockets in one process:
/// the HTTP upgrade, then unmasked server frames read with zero-byte receives (no buffer held while idle; a pooled one
/// only while bytes are there). It answers protocol pings with pongs (the server drops a socket that does not), counts
/// frames carrying the bench stamp <c>"t":µs</c> and keeps the latency and arrival time of the last one.
/// Not a general client: text frames are whole (FIN) frames, as both servers send them.
/// </summary>
public sealed class RawSocket
{
    private static readonly byte[] Stamp = "\"t\":"u8.ToArray();
    private readonly Socket _socket = new(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
    private byte[]? _pending; // bytes of an incomplete frame, between reads
    private int _count;
    public int Count => Volatile.Read(ref _count);
    public long LastLatencyUs { get; private set; }
    public long LastUs { get; private set; }
    public int? CloseCode { get; private set; }
    public bool Gone { get; private set; }

    /// <summary>Connects and upgrades; then reads in the background until the socket ends.</summary>
    public async Task ConnectAsync(IPEndPoint server, string pathAndQuery, CancellationToken ct)
    {
        await _socket.ConnectAsync(server, ct);
        var request = Encoding.ASCII.GetBytes($"GET {pathAndQuery} HTTP/1.1\r\nHost: {server}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
                                              "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n");
        await _socket.SendAsync(request, SocketFlags.None, ct);
        var buffer = ArrayPool<byte>.Shared.Rent(4096);
        try
        {
            var filled = 0;
            while (true)
            {
                var n = await _socket.ReceiveAsync(buffer.AsMemory(filled), SocketFlags.None, ct);
                if (n == 0) throw new IOException("closed during the upgrade");
                filled += n;
                var end = buffer.AsSpan(0, filled).IndexOf("\r\n\r\n"u8);
                if (end < 0)
                {
                    if (filled == buffer.Length) throw new IOException("upgrade response too long");
                    continue;
                }
                if (!buffer.AsSpan(0, filled).StartsWith("HTTP/1.1 101"u8))
                    throw new IOException("upgrade refused: " + Encoding.ASCII.GetString(buffer, 0, Math.Min(filled, 40)).Split('\r')[0]);
                var rest = filled - end - 4;
                if (rest > 0) _pending = buffer.AsSpan(end + 4, rest).ToArray();
                break;
            }
        }
        finally { ArrayPool<byte>.Shared.Return(buffer); }
        _ = Task.Run(ReadLoop, CancellationToken.None);
    }

    private async Task ReadLoop()
    {
        try
        {
            if (_pending is not null) await ProcessAsync(ReadOnlyMemory<byte>.Empty);
            while (!Gone)
            {
                await _socket.ReceiveAsync(Memory<byte>.Empty, SocketFlags.None); // wait for bytes without a buffer
                var buffer = ArrayPool<byte>.Shared.Rent(16 * 1024);
                try
                {
                    var n = await _socket.ReceiveAsync(buffer, SocketFlags.None);
                    if (n == 0) { Gone = true; break; }
                    await ProcessAsync(buffer.AsMemory(0, n));
                }
                finally { ArrayPool<byte>.Shared.Return(buffer); }
            }
        }
        catch (SocketException) { }
        catch (ObjectDisposedException) { }
        Gone = true;
    }

    private async Task ProcessAsync(ReadOnlyMemory<byte> fresh)
    {
        ReadOnlyMemory<byte> data = fresh;
        if (_pending is { } p)
        {
            var joined = new byte[p.Length + fresh.Length];
            p.CopyTo(joined, 0);
            fresh.CopyTo(joined.AsMemory(p.Length));
            data = joined;
            _pending = null;
        }
        while (data.Length >= 2)
        {
            var (header, length) = FrameLength(data.Span);
            if (header < 0 || data.Length < header + length) break;
            var opcode = data.Span[0] & 0x0F;
            var payload = data.Slice(header, (int)length);
            switch (opcode)
            {
                case 0x1: OnText(payload.Span); break;
                case 0x9: await PongAsync(payload); break;
                case 0x8:
                    CloseCode = payload.Length >= 2 ? payload.Span[0] << 8 | payload.Span[1] : 1005;
                    Gone = true;
                    _socket.Close();
                    return;
            }
            data = data[(header + (int)length)..];
        }
        if (data.Length > 0) _pending = data.ToArray();
    }

    /// <summary>Header size and payload length of the frame at the start of <paramref name="d"/>; header −1 when incomplete.</summary>
    private static (int Header, long Length) FrameLength(ReadOnlySpan<byte> d)
    {
        var len = d[1] & 0x7F;
        if (len < 126) return (2, len);
        if (len == 126) return d.Length < 4 ? (-1, 0) : (4, d[2] << 8 | d[3]);
        return d.Length < 10 ? (-1, 0) : (10, (long)System.Buffers.Binary.BinaryPrimitives.ReadUInt64BigEndian(d[2..]));
    }

    private void OnText(ReadOnlySpan<byte> frame)
    {
        var at = frame.IndexOf(Stamp);
        if (at < 0 || !Utf8Parser.TryParse(frame[(at + Stamp.Length)..], out long sent, out _)) return;
        var now = Clock.NowUs();
        LastLatencyUs = Math.Max(0, now - sent);
        LastUs = now;
        Volatile.Write(ref _count, _count + 1);
    }

    /// <summary>A pong with the ping's payload, masked with a zero key (RFC 6455: clients mask; any key will do).</summary>
    private async Task PongAsync(ReadOnlyMemory<byte> payload)
    {
        var frame = new byte[6 + payload.Length];
        frame[0] = 0x8A;
        frame[1] = (byte)(0x80 | payload.Length);
        payload.CopyTo(frame.AsMemory(6));
        await _socket.SendAsync(frame, SocketFlags.None);
    }

    public void Abort()
    {
        Gone = true;
        try { _socket.Close(0); } catch (ObjectDisposedException) { }
    }
}

/// <summary>
/// The client side of the "100k sockets" workload as a child process (<c>--socket-client</c>), so that no process holds
/// more descriptors than its limit and the client side can use both cores. Talks to the harness over stdin/stdout:
/// prints <c>connected ok failed ms firstError</c>, then <c>progress min closed</c> every 50 ms; answers <c>report</c> with
/// <c>lat µs,µs,…</c> (each socket's last bench frame) and <c>last µs</c>; exits on <c>quit</c> or end of input.
/// Arguments: endpoints (ip:port,…), a file of conversation ids, first index, count, connect concurrency, timeout s.
/// </summary>
public static class SocketClientProcess
{
    public static async Task<int> RunAsync(string[] args)
    {
        var endpoints = args[1].Split(',').Select(IPEndPoint.Parse).ToArray();
        var conversations = File.ReadAllLines(args[2]).Where(l => l.Length > 0).ToArray();
        var first = int.Parse(args[3], CultureInfo.InvariantCulture);
        var count = int.Parse(args[4], CultureInfo.InvariantCulture);
        var concurrency = int.Parse(args[5], CultureInfo.InvariantCulture);
        var timeout = TimeSpan.FromSeconds(int.Parse(args[6], CultureInfo.InvariantCulture));
        var query = args.Length > 7 ? args[7] : "?resend_all=true";
        var sockets = new RawSocket[count];
        var failed = 0;
        string? firstError = null;
        var sw = Stopwatch.StartNew();
        using (var cts = new CancellationTokenSource(timeout))
        using (var gate = new SemaphoreSlim(concurrency))
        {
            var tasks = new Task[count];
            for (var k = 0; k < count; k++)
            {
                var i = first + k;
                var s = sockets[k] = new RawSocket();
                await gate.WaitAsync(cts.Token).ConfigureAwait(false);
                tasks[k] = Task.Run(async () =>
                {
                    try { await s.ConnectAsync(endpoints[i % endpoints.Length], $"/sockets/events/{conversations[i % conversations.Length]}{query}", cts.Token); }
                    catch (Exception e) when (e is SocketException or IOException or OperationCanceledException)
                    {
                        Interlocked.Increment(ref failed);
                        Interlocked.CompareExchange(ref firstError, $"{e.GetType().Name}: {e.Message}".Replace('\n', ' '), null);
                        s.Abort();
                    }
                    finally { gate.Release(); }
                });
            }
            await Task.WhenAll(tasks).ConfigureAwait(false);
        }
        var output = Console.Out;
        lock (output) output.WriteLine($"connected {count - failed} {failed} {sw.ElapsedMilliseconds} {firstError ?? "-"}");
        using var stop = new CancellationTokenSource();
        var progress = Task.Run(async () =>
        {
            while (!stop.IsCancellationRequested)
            {
                var min = int.MaxValue;
                var closed = 0;
                foreach (var s in sockets)
                {
                    if (s.Gone) { closed++; continue; }
                    min = Math.Min(min, s.Count);
                }
                lock (output) output.WriteLine($"progress {(min == int.MaxValue ? 0 : min)} {closed}");
                try { await Task.Delay(50, stop.Token).ConfigureAwait(false); } catch (OperationCanceledException) { }
            }
        });
        while (await Console.In.ReadLineAsync().ConfigureAwait(false) is { } line)
        {
            if (line == "quit") break;
            if (line != "report") continue;
            var sb = new StringBuilder("lat ");
            var firstValue = true;
            foreach (var s in sockets)
            {
                if (s.Count == 0) continue;
                if (!firstValue) sb.Append(',');
                sb.Append(s.LastLatencyUs.ToString(CultureInfo.InvariantCulture));
                firstValue = false;
            }
            var codes = sockets.Where(s => s.CloseCode is not null).GroupBy(s => s.CloseCode).Select(g => $"{g.Count()}x{g.Key}");
            lock (output)
            {
                output.WriteLine(sb.ToString());
                output.WriteLine($"last {sockets.Max(s => s.LastUs)}");
                output.WriteLine($"closes {string.Join(' ', codes)}");
                output.WriteLine("done");
            }
        }
        stop.Cancel();
        await progress.ConfigureAwait(false);
        foreach (var s in sockets) s.Abort();
        return 0;
    }
}

/// <summary>The harness side: a few <see cref="SocketClientProcess"/> children, their connects and progress.</summary>
public sealed class RawSocketClients : IAsyncDisposable
{
    private sealed class Part
    {
        public required Process Process;
        public int Min;
        public int Closed;
        public readonly TaskCompletionSource<(int Ok, int Failed, long Ms, string Error)> Connected = new(TaskCreationOptions.RunContinuationsAsynchronously);
        public TaskCompletionSource<(long[] Latencies, long Last, string Closes)> Report = new(TaskCreationOptions.RunContinuationsAsynchronously);
        public List<long> Latencies = [];
        public long Last;
        public string Closes = "";
    }

    private readonly List<Part> _parts;
    private RawSocketClients(List<Part> parts) => _parts = parts;

    public int MinReceived => _parts.Min(p => Volatile.Read(ref p.Min));
    public int Closed => _parts.Sum(p => Volatile.Read(ref p.Closed));

    /// <summary>Starts the children; completes when every one has finished connecting (or failed to).</summary>
    public static async Task<(RawSocketClients Clients, int Ok, int Failed, string Error)> ConnectAsync(
        string loadDll, IReadOnlyList<IPEndPoint> endpoints, string conversationsFile, int sockets, int perProcess, int concurrency, TimeSpan timeout)
    {
        var parts = new List<Part>();
        for (var first = 0; first < sockets; first += perProcess)
        {
            var n = Math.Min(perProcess, sockets - first);
            var psi = new ProcessStartInfo("dotnet", [loadDll, "--socket-client", string.Join(',', endpoints.Select(e => e.ToString())),
                conversationsFile, first.ToString(CultureInfo.InvariantCulture), n.ToString(CultureInfo.InvariantCulture),
                concurrency.ToString(CultureInfo.InvariantCulture), ((int)timeout.TotalSeconds).ToString(CultureInfo.InvariantCulture)])
            { RedirectStandardOutput = true, RedirectStandardInput = true, RedirectStandardError = true, UseShellExecute = false };
            var part = new Part { Process = Process.Start(psi)! };
            part.Process.OutputDataReceived += (_, e) => OnLine(part, e.Data);
            part.Process.ErrorDataReceived += (_, e) => { if (e.Data is { Length: > 0 } d) Console.Error.WriteLine($"  [socket-client] {d}"); };
            part.Process.BeginOutputReadLine();
            part.Process.BeginErrorReadLine();
            parts.Add(part);
        }
        var clients = new RawSocketClients(parts);
        try
        {
            var connected = await Task.WhenAll(parts.Select(p => p.Connected.Task)).WaitAsync(timeout + TimeSpan.FromSeconds(30));
            return (clients, connected.Sum(c => c.Ok), connected.Sum(c => c.Failed), connected.Select(c => c.Error).FirstOrDefault(e => e != "-") ?? "");
        }
        catch { await clients.DisposeAsync(); throw; }
    }

    private static void OnLine(Part part, string? line)
    {
        if (line is null) return;
        var space = line.IndexOf(' ');
        var word = space < 0 ? line : line[..space];
        var rest = space < 0 ? "" : line[(space + 1)..];
        switch (word)
        {
            case "connected":
                var f = rest.Split(' ', 4);
                part.Connected.TrySetResult((int.Parse(f[0], CultureInfo.InvariantCulture), int.Parse(f[1], CultureInfo.InvariantCulture),
                    long.Parse(f[2], CultureInfo.InvariantCulture), f.Length > 3 ? f[3] : "-"));
                break;
            case "progress":
                var g = rest.Split(' ');
                Volatile.Write(ref part.Min, int.Parse(g[0], CultureInfo.InvariantCulture));
                Volatile.Write(ref part.Closed, int.Parse(g[1], CultureInfo.InvariantCulture));
                break;
            case "lat":
                part.Latencies = rest.Length == 0 ? [] : rest.Split(',').Select(s => long.Parse(s, CultureInfo.InvariantCulture)).ToList();
                break;
            case "last": part.Last = long.Parse(rest, CultureInfo.InvariantCulture); break;
            case "closes": part.Closes = rest; break;
            case "done": part.Report.TrySetResult((part.Latencies.ToArray(), part.Last, part.Closes)); break;
        }
    }

    /// <summary>Waits until every socket has <paramref name="frames"/> bench frames, a socket closed, or the timeout.</summary>
    public async Task<bool> WaitForAsync(int frames, TimeSpan timeout)
    {
        var deadline = Stopwatch.GetTimestamp() + (long)(timeout.TotalSeconds * Stopwatch.Frequency);
        // Progress lines come every 50 ms: one full round after the call so no stale figure is read.
        await Task.Delay(60);
        while (MinReceived < frames && Stopwatch.GetTimestamp() < deadline) await Task.Delay(5);
        return MinReceived >= frames;
    }

    /// <summary>Every socket's latency of its last bench frame, the latest arrival (µs), and the close codes seen.</summary>
    public async Task<(long[] Latencies, long LastUs, string Closes)> ReportAsync()
    {
        foreach (var p in _parts)
        {
            p.Report = new(TaskCreationOptions.RunContinuationsAsynchronously);
            await p.Process.StandardInput.WriteLineAsync("report");
            await p.Process.StandardInput.FlushAsync();
        }
        var all = await Task.WhenAll(_parts.Select(p => p.Report.Task)).WaitAsync(TimeSpan.FromSeconds(30));
        return (all.SelectMany(a => a.Latencies).ToArray(), all.Max(a => a.Last), string.Join(' ', all.Select(a => a.Closes).Where(c => c.Length > 0)));
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var p in _parts)
        {
            try
            {
                if (!p.Process.HasExited)
                {
                    await p.Process.StandardInput.WriteLineAsync("quit");
                    await p.Process.StandardInput.FlushAsync();
                }
            }
            catch (IOException) { }
            try { await p.Process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(10)); }
            catch (TimeoutException) { try { p.Process.Kill(entireProcessTree: true); } catch (InvalidOperationException) { } }
            p.Process.Dispose();
        }
    }
}
