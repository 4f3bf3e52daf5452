using System.Diagnostics;
using System.Net;
using System.Net.Sockets;

namespace Akka.Sync.Bench.Load;

/// <summary>The servers a run compares: the product and its two baselines.</summary>
public enum ServerKind { AkkaSync, Kestrel, SocketIo }

/// <summary>
/// One server under test, started as a child process on 127.0.0.1 with a free port and killed at the end.
/// CPU comes from /proc/&lt;pid&gt;/stat (utime + stime), memory from /proc/&lt;pid&gt;/status (VmRSS).
/// </summary>
public sealed class Server : IAsyncDisposable
{
    private static readonly long ClockTicks = 100; // USER_HZ on Linux
    private readonly Process _process;
    private readonly StreamWriter _log;
    public ServerKind Kind { get; }
    public int Port { get; }
    public string BaseUrl => $"http://127.0.0.1:{Port}";
    public string WsUrl => $"ws://127.0.0.1:{Port}";
    public int Pid => _process.Id;
    public string DataDirectory { get; }
    public long StartTimestamp { get; }
    /// <summary>Leave the data folder on dispose (a restart on the same data follows).</summary>
    public bool KeepData { get; set; }

    private Server(ServerKind kind, int port, Process process, StreamWriter log, string dataDirectory, long started)
    {
        Kind = kind; Port = port; _process = process; _log = log; DataDirectory = dataDirectory; StartTimestamp = started;
    }

    public static string Name(ServerKind kind) => kind switch
    {
        ServerKind.AkkaSync => "Akka.Sync",
        ServerKind.Kestrel => "bare Kestrel",
        _ => "socket.io",
    };

    /// <summary>A port free on each of <paramref name="addresses"/> (tried a bounded number of times).</summary>
    public static int FreePortOn(IReadOnlyList<IPAddress> addresses)
    {
        for (var attempt = 0; attempt < 50; attempt++)
        {
            var port = FreePort();
            var listeners = new List<TcpListener>();
            try
            {
                foreach (var a in addresses) { var l = new TcpListener(a, port); l.Start(); listeners.Add(l); }
                return port;
            }
            catch (SocketException) { }
            finally { foreach (var l in listeners) l.Stop(); }
        }
        throw new InvalidOperationException("no port free on every loopback address");
    }

    public static int FreePort()
    {
        var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var port = ((IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop();
        return port;
    }

    /// <summary>
    /// Starts the server; does not wait for it to be ready (see <see cref="WaitReadyAsync"/>). Its data folder is a new
    /// one unless <paramref name="dataDirectory"/> names one (a restart on the same data); its port is a free one unless
    /// <paramref name="fixedPort"/> names one (free on every address it listens on).
    /// </summary>
    public static Server Start(Paths paths, ServerKind kind, string label, IDictionary<string, string>? env = null,
        string? dataDirectory = null, int? fixedPort = null)
    {
        var port = fixedPort ?? FreePort();
        var data = dataDirectory ?? Path.Combine(paths.Work, $"{label}-{port}");
        Directory.CreateDirectory(data);
        var psi = kind switch
        {
            ServerKind.AkkaSync => new ProcessStartInfo("dotnet", [paths.GatewayDll]),
            ServerKind.Kestrel => new ProcessStartInfo("dotnet", [paths.BaselineDll]),
            _ => new ProcessStartInfo("node", [Path.Combine(paths.SocketIoDir, "server.js")]),
        };
        psi.WorkingDirectory = data;
        psi.RedirectStandardOutput = true;
        psi.RedirectStandardError = true;
        psi.UseShellExecute = false;
        psi.Environment["ASPNETCORE_URLS"] = $"http://127.0.0.1:{port}";
        psi.Environment["PORT"] = port.ToString();
        psi.Environment["DOTNET_gcServer"] = null; // each server keeps its own defaults
        if (kind == ServerKind.AkkaSync)
        {
            psi.Environment["Persistence__DataDirectory"] = data;
            psi.Environment["Agent__Mode"] = "external";
            // One log line per socket open/close at Information would be measured too; the bench runs at Warning.
            psi.Environment["Logging__LogLevel__Default"] = "Warning";
            // appsettings.json sets Akka.Sync at Information, which wins over Default: without this the per-socket lines were logged.
            psi.Environment["Logging__LogLevel__Akka.Sync"] = "Warning";
            psi.Environment["Limits__MaxSocketsPerNode"] = "20000";
            // Diagnosis only (never set by bench/run): extra settings for the product, "Key=Value;Key=Value".
            foreach (var pair in (Environment.GetEnvironmentVariable("BENCH_AKKA_ENV") ?? "").Split(';', StringSplitOptions.RemoveEmptyEntries))
                if (pair.Split('=', 2) is [var key, var value]) psi.Environment[key] = value;
        }
        if (env is not null) foreach (var (k, v) in env) psi.Environment[k] = v;
        var log = new StreamWriter(Path.Combine(paths.Work, $"{label}-{port}.log")) { AutoFlush = true };
        var started = Stopwatch.GetTimestamp();
        var process = Process.Start(psi) ?? throw new InvalidOperationException($"cannot start {kind}");
        process.OutputDataReceived += (_, e) => { if (e.Data is not null) lock (log) log.WriteLine(e.Data); };
        process.ErrorDataReceived += (_, e) => { if (e.Data is not null) lock (log) log.WriteLine(e.Data); };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return new Server(kind, port, process, log, data, started);
    }

    /// <summary>Polls GET /ready every 5 ms until 200; returns the time since the process was started.</summary>
    public async Task<TimeSpan> WaitReadyAsync(HttpClient http, TimeSpan timeout)
    {
        var deadline = Stopwatch.GetTimestamp() + (long)(timeout.TotalSeconds * Stopwatch.Frequency);
        while (Stopwatch.GetTimestamp() < deadline)
        {
            if (_process.HasExited) throw new InvalidOperationException($"{Kind} exited with {_process.ExitCode} before it was ready");
            try
            {
                using var r = await http.GetAsync($"{BaseUrl}/ready");
                if (r.StatusCode == HttpStatusCode.OK) return Stopwatch.GetElapsedTime(StartTimestamp);
            }
            catch (HttpRequestException) { }
            await Task.Delay(5);
        }
        throw new TimeoutException($"{Kind} was not ready within {timeout}");
    }

    /// <summary>User + system CPU time the server has used so far.</summary>
    public TimeSpan Cpu()
    {
        var stat = File.ReadAllText($"/proc/{Pid}/stat");
        var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
        // fields[0] is field 3 (state); utime and stime are fields 14 and 15.
        var ticks = long.Parse(fields[11]) + long.Parse(fields[12]);
        return TimeSpan.FromSeconds((double)ticks / ClockTicks);
    }

    /// <summary>Bytes the server has caused to be written to storage so far (/proc/&lt;pid&gt;/io write_bytes; 0 where not accounted).</summary>
    public long DiskWriteBytes()
    {
        foreach (var line in File.ReadLines($"/proc/{Pid}/io"))
            if (line.StartsWith("write_bytes:", StringComparison.Ordinal)) return long.Parse(line[12..].Trim());
        return 0;
    }

    /// <summary>Resident set size in bytes (VmRSS).</summary>
    public long Rss()
    {
        foreach (var line in File.ReadLines($"/proc/{Pid}/status"))
            if (line.StartsWith("VmRSS:", StringComparison.Ordinal))
                return long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1]) * 1024;
        return 0;
    }

    public async ValueTask DisposeAsync()
    {
        try { if (!_process.HasExited) _process.Kill(entireProcessTree: true); } catch (InvalidOperationException) { }
        await _process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(10)).ConfigureAwait(false);
        _process.Dispose();
        lock (_log) _log.Dispose();
        if (KeepData) return;
        try { Directory.Delete(DataDirectory, recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
    }
}

/// <summary>Where things are: the built servers, the node baseline, the scratch folder, the docs.</summary>
public sealed record Paths(string Root)
{
    /// <summary>The product's build; <c>BENCH_GATEWAY_DLL</c> names another (diagnosis only: e.g. an older commit for a before/after).</summary>
    public string GatewayDll => Environment.GetEnvironmentVariable("BENCH_GATEWAY_DLL") is { Length: > 0 } other
        ? other
        : Path.Combine(Root, "src/Gateway/bin/Release/net10.0/Akka.Sync.Gateway.dll");
    public string BaselineDll => Path.Combine(Root, "bench/Baseline/bin/Release/net10.0/Akka.Sync.Bench.Baseline.dll");
    public string SocketIoDir => Path.Combine(Root, "bench/socketio");
    public string Work => Path.Combine(Root, "bench/results/work");
    public string Results => Path.Combine(Root, "bench/results");
    public string Docs => Path.Combine(Root, "docs");
    public string LoadDll => Path.Combine(Root, "bench/Load/bin/Release/net10.0/Akka.Sync.Bench.Load.dll");
}
