using System.Collections.Concurrent;
using System.Diagnostics;
using System.Runtime.InteropServices;
using System.Text.RegularExpressions;

namespace Akka.Sync.Cluster.Tests.Support;

/// <summary>
/// One Akka.Sync node as a real server process (<c>dotnet Akka.Sync.Gateway.dll</c>): HTTP and remoting on
/// 127.0.0.1 port 0, PostgreSQL journal. It can be killed (SIGKILL: nothing runs) or terminated (SIGTERM:
/// CoordinatedShutdown leaves the cluster and hands shards over). Its output is kept for log assertions.
/// </summary>
public sealed partial class NodeProcess : IAsyncDisposable
{
    private readonly Process _process;
    private readonly ConcurrentQueue<string> _output = new();

    public string Name { get; }
    public Uri BaseUri { get; private set; } = null!;
    public string Address { get; private set; } = null!;
    public HttpClient Http { get; } = new() { Timeout = TimeSpan.FromSeconds(30) };
    public bool HasExited => _process.HasExited;
    public IReadOnlyCollection<string> Output => _output;

    private NodeProcess(string name, Process process)
    {
        Name = name;
        _process = process;
    }

    /// <summary>
    /// Settings every test node gets on top of the shipped ones: a shorter ask timeout (requests held during a failover
    /// answer sooner). The failure handling is akka.hocon's, as shipped, so FailoverTests measures what production runs.
    /// </summary>
    public static readonly IReadOnlyDictionary<string, string> TestSettings = new Dictionary<string, string>
    {
        ["Limits:AskTimeout"] = "00:00:03",
    };

    public static async Task<NodeProcess> StartAsync(string name, string connectionString, IReadOnlyList<string> seeds,
        IReadOnlyDictionary<string, string>? extra = null)
    {
        var settings = new Dictionary<string, string>(TestSettings)
        {
            ["urls"] = "http://127.0.0.1:0",
            ["Cluster:Host"] = "127.0.0.1",
            ["Cluster:Port"] = "0",
            ["Persistence:Provider"] = "PostgreSql",
            ["Persistence:ConnectionString"] = connectionString,
            ["Agent:Mode"] = "external",
            ["Logging:LogLevel:Default"] = "Warning",
            ["Logging:LogLevel:Akka"] = "Warning",
            ["Logging:LogLevel:Akka.Sync"] = "Information",
            ["Logging:LogLevel:Microsoft.Hosting.Lifetime"] = "Information", // "Now listening on"
        };
        for (var i = 0; i < seeds.Count; i++) settings[$"Cluster:SeedNodes:{i}"] = seeds[i];
        if (extra is not null) foreach (var (k, v) in extra) settings[k] = v;
        // AKKA_SYNC_NODE_SETTINGS="Key=Value;Key=Value" adds settings to every node (to measure a choice, e.g. a failure-detector setting).
        foreach (var pair in (Environment.GetEnvironmentVariable("AKKA_SYNC_NODE_SETTINGS") ?? "").Split(';', StringSplitOptions.RemoveEmptyEntries))
            if (pair.Split('=', 2) is [var key, var value]) settings[key.Trim()] = value.Trim();

        var psi = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        psi.ArgumentList.Add(GatewayDll());
        foreach (var (k, v) in settings)
        {
            psi.ArgumentList.Add("--" + k);
            psi.ArgumentList.Add(v);
        }
        var node = new NodeProcess(name, Process.Start(psi)!);
        try
        {
            await node.WaitStartedAsync();
            return node;
        }
        catch
        {
            await node.DisposeAsync();
            throw;
        }
    }

    private async Task WaitStartedAsync()
    {
        var listening = new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously);
        var address = new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously);
        _process.ErrorDataReceived += (_, e) => { if (e.Data is not null) _output.Enqueue("stderr: " + e.Data); };
        _process.OutputDataReceived += (_, e) =>
        {
            if (e.Data is not { } line) return;
            _output.Enqueue(line);
            if (ListeningOn().Match(line) is { Success: true } m) listening.TrySetResult(m.Groups[1].Value);
            if (NodeAddress().Match(line) is { Success: true } a) address.TrySetResult(a.Groups[1].Value);
        };
        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        var exited = _process.WaitForExitAsync(cts.Token);
        var started = Task.WhenAll(listening.Task, address.Task);
        if (await Task.WhenAny(started, exited) != started)
            throw new InvalidOperationException($"node {Name} did not start:\n{string.Join('\n', _output.TakeLast(40))}");
        BaseUri = new Uri(await listening.Task);
        Address = await address.Task;
        Http.BaseAddress = BaseUri;
    }

    /// <summary>Waits until this node's /ready answers 200 (member Up, journal reachable).</summary>
    public async Task WaitReadyAsync(TimeSpan timeout)
    {
        await Eventually.HoldsAsync(async () => (int)(await Http.GetAsync("/ready")).StatusCode, status => status == 200, timeout,
            status => $"node {Name} not ready (last /ready: {status}):\n{string.Join('\n', _output.TakeLast(40))}");
    }

    /// <summary>
    /// GET as JSON. A cold node (first shard allocation, recovery, JIT on a busy machine) may answer 503 for a moment;
    /// retry those like any client would, bounded.
    /// </summary>
    public async Task<System.Text.Json.JsonElement> GetJsonAsync(string path)
    {
        var deadline = DateTime.UtcNow.AddSeconds(60);
        while (true)
        {
            using var response = await Http.GetAsync(path);
            var text = await response.Content.ReadAsStringAsync();
            if (response.IsSuccessStatusCode) return System.Text.Json.JsonDocument.Parse(text).RootElement.Clone();
            if ((int)response.StatusCode != 503 || DateTime.UtcNow > deadline)
                throw new InvalidOperationException($"GET {path} on {Name}: {(int)response.StatusCode} {text}");
            await Task.Delay(200); // client back-off
        }
    }

    /// <summary>The sum of a metric's samples on this node's <c>/metrics</c> (Prometheus text); 0 when absent.</summary>
    public async Task<double> MetricAsync(string metric)
    {
        var text = await Http.GetStringAsync("/metrics");
        return text.Split('\n')
            .Where(l => l.StartsWith(metric + "{", StringComparison.Ordinal) || l.StartsWith(metric + " ", StringComparison.Ordinal))
            .Sum(l => double.Parse(l.TrimEnd().Split(' ')[^1], System.Globalization.CultureInfo.InvariantCulture));
    }

    public Uri SocketUri(string conversationId, string query) =>
        new($"ws://{BaseUri.Authority}/sockets/events/{conversationId}?{query}");

    /// <summary>SIGKILL: the process vanishes mid-whatever, as on a machine failure.</summary>
    public void Kill()
    {
        if (!_process.HasExited) _process.Kill(entireProcessTree: true);
        _process.WaitForExit();
    }

    /// <summary>SIGTERM, as Kubernetes sends on a rolling restart; waits for the process to exit by itself.</summary>
    public async Task TerminateAsync(TimeSpan timeout)
    {
        if (_process.HasExited) return;
        if (SysKill(_process.Id, 15) != 0) throw new InvalidOperationException($"kill -TERM {_process.Id} failed");
        using var cts = new CancellationTokenSource(timeout);
        await _process.WaitForExitAsync(cts.Token);
    }

    /// <summary>
    /// SIGSTOP, then SIGCONT after <paramref name="duration"/>: the process is frozen whole (no heartbeat sent or read),
    /// as in a long GC pause or a starved VM. The duration is the fault being injected, not a wait for something.
    /// </summary>
    public async Task FreezeAsync(TimeSpan duration)
    {
        if (SysKill(_process.Id, 19) != 0) throw new InvalidOperationException($"kill -STOP {_process.Id} failed");
        try { await Task.Delay(duration); }
        finally { SysKill(_process.Id, 18); }
    }

    public int ExitCode => _process.ExitCode;

    [DllImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static extern int SysKill(int pid, int signal);

    private static string GatewayDll()
    {
        var configuration = AppContext.BaseDirectory.Contains($"{Path.DirectorySeparatorChar}Release{Path.DirectorySeparatorChar}") ? "Release" : "Debug";
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "Akka.Sync.sln"))) dir = dir.Parent;
        if (dir is null) throw new InvalidOperationException("Akka.Sync.sln not found above " + AppContext.BaseDirectory);
        var dll = Path.Combine(dir.FullName, "src", "Gateway", "bin", configuration, "net10.0", "Akka.Sync.Gateway.dll");
        return File.Exists(dll) ? dll : throw new FileNotFoundException("build the solution first", dll);
    }

    [GeneratedRegex(@"Now listening on: (http://127\.0\.0\.1:\d+)")]
    private static partial Regex ListeningOn();

    [GeneratedRegex(@"Akka\.Sync node (akka\.tcp://\S+) serving")]
    private static partial Regex NodeAddress();

    public ValueTask DisposeAsync()
    {
        Kill();
        Http.Dispose();
        _process.Dispose();
        return ValueTask.CompletedTask;
    }
}
