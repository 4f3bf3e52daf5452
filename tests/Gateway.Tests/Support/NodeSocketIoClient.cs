using System.Diagnostics;
using System.Text.Json;
using System.Threading.Channels;

namespace Akka.Sync.Gateway.Tests.Support;

/// <summary>
/// The real npm socket.io-client in a node process (tests/compat/v0-client.js), configured like the OpenHands V0
/// frontend. What it sees comes back as JSON lines; what it should send goes in on stdin.
/// </summary>
public sealed class NodeSocketIoClient : IAsyncDisposable
{
    private readonly Process _process;
    private readonly Channel<JsonElement> _lines = Channel.CreateUnbounded<JsonElement>();
    private readonly Task _pump;

    private NodeSocketIoClient(Process process)
    {
        _process = process;
        _pump = Task.Run(async () =>
        {
            while (await process.StandardOutput.ReadLineAsync() is { } line)
                if (line.StartsWith('{')) _lines.Writer.TryWrite(JsonDocument.Parse(line).RootElement.Clone());
            _lines.Writer.TryComplete();
        });
    }

    public static string CompatDirectory
    {
        get
        {
            for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            {
                var candidate = Path.Combine(dir.FullName, "tests", "compat");
                if (File.Exists(Path.Combine(candidate, "v0-client.js"))) return candidate;
            }
            throw new InvalidOperationException("tests/compat not found above " + AppContext.BaseDirectory);
        }
    }

    /// <summary>
    /// Connects with the OpenHands query: <c>latest_event_id</c>, <c>conversation_id</c>, <c>providers_set</c>,
    /// <c>session_api_key</c> (JS null when not given, which the URL carries as the literal "null").
    /// </summary>
    public static NodeSocketIoClient Start(Uri server, string conversationId, long latestEventId = -1, string? sessionApiKey = null,
        object? extraQuery = null)
    {
        var query = new Dictionary<string, object?>
        {
            ["latest_event_id"] = latestEventId,
            ["conversation_id"] = conversationId,
            ["providers_set"] = "",
            ["session_api_key"] = sessionApiKey,
        };
        if (extraQuery is IDictionary<string, object?> extra)
            foreach (var (k, v) in extra) query[k] = v;
        var psi = new ProcessStartInfo("node")
        {
            WorkingDirectory = CompatDirectory,
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        psi.ArgumentList.Add("v0-client.js");
        psi.ArgumentList.Add(server.ToString().TrimEnd('/'));
        psi.ArgumentList.Add(JsonSerializer.Serialize(query));
        var process = Process.Start(psi) ?? throw new InvalidOperationException("could not start node");
        process.ErrorDataReceived += (_, _) => { };
        process.BeginErrorReadLine();
        return new NodeSocketIoClient(process);
    }

    /// <summary>The next line the client printed (connect, connect_error, event, disconnect).</summary>
    public async Task<JsonElement> NextAsync(TimeSpan? timeout = null)
    {
        using var cts = new CancellationTokenSource(timeout ?? TimeSpan.FromSeconds(20));
        try
        {
            return await _lines.Reader.ReadAsync(cts.Token);
        }
        catch (ChannelClosedException)
        {
            throw new InvalidOperationException("the socket.io client exited");
        }
    }

    /// <summary>Reads until a line of the given type, returning everything read (the match last).</summary>
    public async Task<List<JsonElement>> UntilAsync(string type, TimeSpan? timeout = null) =>
        await UntilAsync(l => l.GetProperty("type").GetString() == type, timeout);

    public async Task<List<JsonElement>> UntilAsync(Func<JsonElement, bool> match, TimeSpan? timeout = null)
    {
        var deadline = DateTime.UtcNow + (timeout ?? TimeSpan.FromSeconds(20));
        var lines = new List<JsonElement>();
        while (true)
        {
            var left = deadline - DateTime.UtcNow;
            if (left <= TimeSpan.Zero) throw new TimeoutException($"no match after {lines.Count} lines: {string.Join("\n", lines.Select(l => l.GetRawText()))}");
            var line = await NextAsync(left);
            lines.Add(line);
            if (match(line)) return lines;
        }
    }

    /// <summary>The oh_event payloads among lines.</summary>
    public static List<JsonElement> Events(IEnumerable<JsonElement> lines) =>
        lines.Where(l => l.GetProperty("type").GetString() == "event").Select(l => l.GetProperty("data")).ToList();

    public async Task EmitAsync(string eventName, object data)
    {
        await _process.StandardInput.WriteLineAsync(JsonSerializer.Serialize(new { emit = eventName, data }));
        await _process.StandardInput.FlushAsync();
    }

    /// <summary>Emits with an ack callback; the ack comes back as a line <c>{"type":"ack","label":…,"args":[…]}</c>.</summary>
    public async Task EmitWithAckAsync(string eventName, object data, string label)
    {
        await _process.StandardInput.WriteLineAsync(JsonSerializer.Serialize(new { emit = eventName, data, ack = label }));
        await _process.StandardInput.FlushAsync();
    }

    public async ValueTask DisposeAsync()
    {
        try
        {
            if (!_process.HasExited)
            {
                await _process.StandardInput.WriteLineAsync("""{"close":true}""");
                await _process.StandardInput.FlushAsync();
                using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(5));
                try { await _process.WaitForExitAsync(cts.Token); }
                catch (OperationCanceledException) { _process.Kill(entireProcessTree: true); }
            }
        }
        catch (IOException)
        {
        }
        await _pump;
        _process.Dispose();
    }
}
