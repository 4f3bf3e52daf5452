using System.Buffers.Text;
using System.Diagnostics;
using System.Net.WebSockets;
using System.Text;
using System.Text.Json;
using HdrHistogram;

namespace Akka.Sync.Bench.Load;

/// <summary>Wall-clock microseconds since the Unix epoch: the stamp ingest puts in each event, shared with node.</summary>
public static class Clock
{
    public static long NowUs() => (DateTime.UtcNow.Ticks - DateTime.UnixEpoch.Ticks) / 10;
}

/// <summary>The REST side: create conversations and ingest batches of bench events (same route shape on every server).</summary>
public sealed class Api(HttpClient http, string baseUrl)
{
    private static readonly string Pad = new('x', 96);

    public async Task<string> CreateConversationAsync()
    {
        using var content = new StringContent("{}", Encoding.UTF8, "application/json");
        using var r = await http.PostAsync($"{baseUrl}/api/conversations", content);
        r.EnsureSuccessStatusCode();
        using var doc = JsonDocument.Parse(await r.Content.ReadAsByteArrayAsync());
        return doc.RootElement.GetProperty("id").GetString()!;
    }

    /// <summary>Posts events n = first … first+count-1, each stamped with the time of sending; returns their ids.</summary>
    public async Task<string[]> IngestAsync(string conversation, long first, int count)
    {
        var sb = new StringBuilder(count * 160);
        var now = Clock.NowUs();
        sb.Append('[');
        for (var i = 0; i < count; i++)
        {
            if (i > 0) sb.Append(',');
            sb.Append("{\"kind\":\"BenchEvent\",\"source\":\"agent\",\"t\":").Append(now)
              .Append(",\"n\":").Append(first + i).Append(",\"pad\":\"").Append(Pad).Append("\"}");
        }
        sb.Append(']');
        using var content = new StringContent(sb.ToString(), Encoding.UTF8, "application/json");
        using var r = await http.PostAsync($"{baseUrl}/api/conversations/{conversation}/agent/events", content);
        if (!r.IsSuccessStatusCode)
            throw new InvalidOperationException($"ingest answered {(int)r.StatusCode}: {await r.Content.ReadAsStringAsync()}");
        using var doc = JsonDocument.Parse(await r.Content.ReadAsByteArrayAsync());
        return doc.RootElement.GetProperty("items").EnumerateArray().Select(e => e.GetProperty("id").GetString()!).ToArray();
    }
}

/// <summary>Latency percentiles in microseconds.</summary>
public sealed record Latency(double P50Us, double P99Us, double P999Us)
{
    public static Latency From(HistogramBase h) =>
        h.TotalCount == 0 ? new(double.NaN, double.NaN, double.NaN)
            : new(h.GetValueAtPercentile(50), h.GetValueAtPercentile(99), h.GetValueAtPercentile(99.9));
}

/// <summary>What a group of receivers saw: bench frames, when the last one arrived, their latency.</summary>
public sealed record Received(long Frames, long LastUs, Latency Latency, bool Complete);

/// <summary>Sockets that count bench events; the harness paces ingest by the slowest one.</summary>
public interface IReceivers : IAsyncDisposable
{
    long MinReceived { get; }
    /// <summary>Waits until every socket has <paramref name="expected"/> bench frames or the timeout passes.</summary>
    Task<Received> FinishAsync(long expected, TimeSpan timeout);
}

/// <summary>
/// One V1 WebSocket (<c>ClientWebSocket</c>) that counts frames carrying a bench stamp <c>"t":µs</c> and records
/// ingest→receive latency in its own histogram (no locks on the receive path).
/// </summary>
public sealed class V1Socket
{
    private static readonly byte[] Stamp = "\"t\":"u8.ToArray();
    private readonly ClientWebSocket _ws = new();
    private long _count;
    public long Count => Volatile.Read(ref _count);
    public long FirstUs { get; private set; }
    public long LastUs { get; private set; }
    public LongHistogram? Histogram { get; }
    public Task Loop { get; private set; } = Task.CompletedTask;
    public WebSocketCloseStatus? CloseStatus => _ws.CloseStatus;
    public string? CloseReason => _ws.CloseStatusDescription;

    public V1Socket(bool recordLatency)
    {
        if (recordLatency) Histogram = new LongHistogram(60_000_000, 2);
        _ws.Options.KeepAliveInterval = TimeSpan.Zero;
        _ws.Options.SetBuffer(4096, 4096);
    }

    public async Task ConnectAsync(Uri uri, CancellationToken ct)
    {
        await _ws.ConnectAsync(uri, ct);
        Loop = Task.Run(ReceiveLoop);
    }

    private async Task ReceiveLoop()
    {
        var buffer = new byte[8192];
        var filled = 0;
        try
        {
            while (true)
            {
                if (filled == buffer.Length) Array.Resize(ref buffer, buffer.Length * 2);
                var r = await _ws.ReceiveAsync(buffer.AsMemory(filled), CancellationToken.None);
                if (r.MessageType == WebSocketMessageType.Close) return;
                filled += r.Count;
                if (!r.EndOfMessage) continue;
                OnMessage(buffer.AsSpan(0, filled));
                filled = 0;
            }
        }
        catch (WebSocketException) { }
        catch (OperationCanceledException) { }
        catch (ObjectDisposedException) { }
    }

    private void OnMessage(ReadOnlySpan<byte> frame)
    {
        var at = frame.IndexOf(Stamp);
        if (at < 0) return;
        if (!Utf8Parser.TryParse(frame[(at + Stamp.Length)..], out long sent, out _)) return;
        var now = Clock.NowUs();
        Histogram?.RecordValue(Math.Clamp(now - sent, 0, 59_999_999));
        if (FirstUs == 0) FirstUs = now;
        LastUs = now;
        Volatile.Write(ref _count, _count + 1);
    }

    public void Abort() { try { _ws.Abort(); } catch (ObjectDisposedException) { } _ws.Dispose(); }
}

/// <summary>Many <see cref="V1Socket"/>s, connected with bounded concurrency.</summary>
public sealed class V1Receivers : IReceivers
{
    private readonly List<V1Socket> _sockets;
    private V1Receivers(List<V1Socket> sockets) => _sockets = sockets;
    public IReadOnlyList<V1Socket> Sockets => _sockets;

    public static async Task<V1Receivers> ConnectAsync(IReadOnlyList<Uri> uris, bool recordLatency, int concurrency, TimeSpan timeout)
    {
        var sockets = uris.Select(_ => new V1Socket(recordLatency)).ToList();
        using var cts = new CancellationTokenSource(timeout);
        using var gate = new SemaphoreSlim(concurrency);
        await Task.WhenAll(sockets.Select(async (s, i) =>
        {
            await gate.WaitAsync(cts.Token);
            try { await s.ConnectAsync(uris[i], cts.Token); }
            finally { gate.Release(); }
        }));
        return new V1Receivers(sockets);
    }

    public long MinReceived
    {
        get
        {
            var min = long.MaxValue;
            foreach (var s in _sockets) min = Math.Min(min, s.Count);
            return min;
        }
    }

    public long TotalReceived => _sockets.Sum(s => s.Count);

    public async Task<Received> FinishAsync(long expected, TimeSpan timeout)
    {
        var deadline = Stopwatch.GetTimestamp() + (long)(timeout.TotalSeconds * Stopwatch.Frequency);
        while (MinReceived < expected && Stopwatch.GetTimestamp() < deadline) await Task.Delay(5);
        var complete = MinReceived >= expected;
        LongHistogram? merged = null;
        foreach (var s in _sockets)
            if (s.Histogram is { } h) { merged ??= new LongHistogram(60_000_000, 2); merged.Add(h); }
        var latency = merged is null ? new Latency(double.NaN, double.NaN, double.NaN) : Latency.From(merged);
        return new Received(TotalReceived, _sockets.Max(s => s.LastUs), latency, complete);
    }

    public string ClosedSummary()
    {
        var closed = _sockets.Where(s => s.CloseStatus is not null).GroupBy(s => $"{(int)s.CloseStatus!} {s.CloseReason}").ToList();
        return closed.Count == 0 ? "" : string.Join(", ", closed.Select(g => $"{g.Count()}× closed {g.Key}"));
    }

    public ValueTask DisposeAsync()
    {
        foreach (var s in _sockets) s.Abort();
        return ValueTask.CompletedTask;
    }
}

/// <summary>
/// socket.io-client receivers in node (bench/socketio/receivers.js), split over a few processes so the client side
/// can use both cores; each reports its slowest socket every 20 ms and its figures at the end.
/// </summary>
public sealed class NodeReceivers : IReceivers
{
    private sealed class Part
    {
        public required Process Process;
        public long Min;
        public readonly TaskCompletionSource Ready = new(TaskCreationOptions.RunContinuationsAsynchronously);
        public readonly TaskCompletionSource<JsonElement> Result = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }
    private readonly List<Part> _parts;
    private NodeReceivers(List<Part> parts) => _parts = parts;

    public static async Task<NodeReceivers> StartAsync(Paths paths, string url, string conversation, int sockets, long expected, TimeSpan timeout, int processes)
    {
        var parts = new List<Part>();
        for (var p = 0; p < processes; p++)
        {
            var n = sockets / processes + (p < sockets % processes ? 1 : 0);
            var psi = new ProcessStartInfo("node", [Path.Combine(paths.SocketIoDir, "receivers.js"), url, conversation, n.ToString(), expected.ToString(), ((int)timeout.TotalSeconds).ToString()])
            {
                RedirectStandardOutput = true, RedirectStandardInput = true, RedirectStandardError = true, UseShellExecute = false,
            };
            var part = new Part { Process = Process.Start(psi)! };
            part.Process.OutputDataReceived += (_, e) =>
            {
                if (e.Data is not { } line) return;
                if (line == "ready") part.Ready.TrySetResult();
                else if (line.StartsWith("progress ", StringComparison.Ordinal)) Volatile.Write(ref part.Min, long.Parse(line[9..]));
                else if (line.StartsWith('{')) part.Result.TrySetResult(JsonDocument.Parse(line).RootElement.Clone());
            };
            part.Process.ErrorDataReceived += (_, e) => { if (e.Data is { Length: > 0 } d) Console.Error.WriteLine($"  [receivers] {d}"); };
            part.Process.BeginOutputReadLine();
            part.Process.BeginErrorReadLine();
            parts.Add(part);
        }
        await Task.WhenAll(parts.Select(p => p.Ready.Task)).WaitAsync(TimeSpan.FromSeconds(60));
        return new NodeReceivers(parts);
    }

    public long MinReceived => _parts.Min(p => Volatile.Read(ref p.Min));

    public async Task<Received> FinishAsync(long expected, TimeSpan timeout)
    {
        foreach (var p in _parts) { await p.Process.StandardInput.WriteLineAsync($"expect {expected}"); await p.Process.StandardInput.FlushAsync(); }
        var results = await Task.WhenAll(_parts.Select(p => p.Result.Task)).WaitAsync(timeout + TimeSpan.FromSeconds(10));
        var frames = results.Sum(r => r.GetProperty("frames").GetInt64());
        // Percentiles of parts of equal size: the worse part's figure is the conservative merge.
        double Worst(string name) => results.Max(r => r.GetProperty(name).GetDouble());
        return new Received(frames, results.Max(r => r.GetProperty("last_us").GetInt64()),
            new Latency(Worst("p50_us"), Worst("p99_us"), Worst("p999_us")), MinReceived >= expected);
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var p in _parts)
        {
            try { if (!p.Process.HasExited) p.Process.Kill(entireProcessTree: true); } catch (InvalidOperationException) { }
            await p.Process.WaitForExitAsync();
            p.Process.Dispose();
        }
    }
}
