using System.Diagnostics;
using System.Net;
using System.Text.Json;

namespace Akka.Sync.Bench.Load;

/// <summary>Workload sizes: the full run by default, <c>--quick</c> for a smoke run.</summary>
public sealed record Sizes(
    int FanoutSockets, int FanoutEvents, int FanoutBatch, int FanoutWindow, TimeSpan FanoutCap,
    int ManyConversations, int ManyEventsPerConversation, int ManyBatch,
    int ReplayEvents, int ReplayRuns,
    int IdleSockets,
    int IngestEvents, int IngestBatch, int IngestProducers,
    int ColdStarts,
    int ClusterSocketsPerNode, int ClusterEvents, TimeSpan ClusterCap)
{
    /// <summary>"100k sockets": the sockets asked for (fewer when the descriptor limit does not allow them), their conversations,
    /// how long CPU at rest is measured (one ping interval), and the sockets each client process holds.</summary>
    public int ScaleSockets { get; init; } = 100_000;
    public int ScaleConversations { get; init; } = 1_000;
    public TimeSpan ScaleRestWindow { get; init; } = TimeSpan.FromSeconds(20);
    public int ScaleSocketsPerClient { get; init; } = 10_000;
    /// <summary>Ingest and many conversations are measured once the server has run the same workload for this long
    /// (tiered JIT takes ~10-15 s of load to settle on this machine: bench/NOTES.md, "warm-up").</summary>
    public TimeSpan WarmUp { get; init; } = TimeSpan.FromSeconds(15);

    public static readonly Sizes Full = new(1000, 20_000, 20, 100, TimeSpan.FromSeconds(30),
        2000, 20, 10, 30_000, 3, 10_000, 60_000, 100, 8, 3,
        200, 10_000, TimeSpan.FromSeconds(20));
    public static readonly Sizes Quick = new(100, 2_000, 20, 100, TimeSpan.FromSeconds(10),
        200, 10, 10, 5_000, 1, 1_000, 6_000, 100, 4, 1,
        20, 1_000, TimeSpan.FromSeconds(10))
    { ScaleSockets = 5_000, ScaleConversations = 100, ScaleRestWindow = TimeSpan.FromSeconds(5), ScaleSocketsPerClient = 2_500, WarmUp = TimeSpan.FromSeconds(2) };
}

/// <summary>The six workloads; each runs against one freshly started server and adds its figures to the results.</summary>
public sealed class Workloads(Paths paths, Sizes sizes, Results results, HttpClient http)
{
    private static readonly TimeSpan ReadyTimeout = TimeSpan.FromSeconds(60);

    private static void Log(string line) => Console.WriteLine($"  {DateTime.UtcNow:HH:mm:ss} {line}");

    private async Task<Server> StartAsync(ServerKind kind, string label, IDictionary<string, string>? env = null, int? port = null)
    {
        var server = Server.Start(paths, kind, label, env, fixedPort: port);
        try { await server.WaitReadyAsync(http, ReadyTimeout); }
        catch { await server.DisposeAsync(); throw; }
        return server;
    }

    private static Uri SocketUri(Server s, string conversation, string query = "") => new($"{s.WsUrl}/sockets/events/{conversation}{query}");

    // ---- 1. fan-out ----
    /// <summary>
    /// One conversation, N sockets, events ingested in batches. Ingest is paced by the slowest socket (at most
    /// <c>FanoutWindow</c> events ahead of it: a closed loop, so no server's queue overflows and each runs at its own
    /// saturation), bounded by <c>FanoutEvents</c> and <c>FanoutCap</c>.
    /// </summary>
    public async Task FanoutAsync(ServerKind kind)
    {
        const string W = "1. fan-out";
        await using var server = await StartAsync(kind, "fanout");
        var api = new Api(http, server.BaseUrl);
        var conversation = await api.CreateConversationAsync();
        IReceivers receivers = kind == ServerKind.SocketIo
            ? await NodeReceivers.StartAsync(paths, server.BaseUrl, conversation, sizes.FanoutSockets, sizes.FanoutEvents, sizes.FanoutCap + TimeSpan.FromSeconds(30), 2)
            : await V1Receivers.ConnectAsync(Enumerable.Repeat(SocketUri(server, conversation), sizes.FanoutSockets).ToList(), true, 64, TimeSpan.FromSeconds(60));
        await using var _ = receivers;
        await Task.Delay(500);
        var cpu0 = server.Cpu();
        var t0 = Clock.NowUs();
        var sw = Stopwatch.StartNew();
        long ingested = 0;
        long peakRss = server.Rss();
        while (ingested < sizes.FanoutEvents && sw.Elapsed < sizes.FanoutCap)
        {
            while (ingested - receivers.MinReceived > sizes.FanoutWindow - sizes.FanoutBatch && sw.Elapsed < sizes.FanoutCap)
                await Task.Delay(1);
            var count = (int)Math.Min(sizes.FanoutBatch, sizes.FanoutEvents - ingested);
            await api.IngestAsync(conversation, ingested + 1, count);
            ingested += count;
            if (ingested % 2000 == 0) peakRss = Math.Max(peakRss, server.Rss());
        }
        var got = await receivers.FinishAsync(ingested, TimeSpan.FromSeconds(30));
        var cpu = server.Cpu() - cpu0;
        peakRss = Math.Max(peakRss, server.Rss());
        var seconds = (got.LastUs - t0) / 1e6;
        var rate = got.Frames / seconds;
        results.Add(W, "deliveries/s", "frames/s").Values[kind] = rate;
        AddLatency(W, kind, got.Latency);
        results.Add(W, "server CPU per delivery", "µs/delivery", false).Values[kind] = cpu.TotalMicroseconds / got.Frames;
        results.Add(W, "server peak RSS", "MB", false).Values[kind] = peakRss / 1e6;
        results.Add(W, "events ingested", "events").Values[kind] = ingested;
        var closed = receivers is V1Receivers v1 ? v1.ClosedSummary() : "";
        Log($"{Server.Name(kind)}: {ingested} events × {sizes.FanoutSockets} sockets, {got.Frames} frames in {seconds:0.00} s = {rate:#,0}/s, " +
            $"p50 {got.Latency.P50Us / 1000:0.0} ms p99 {got.Latency.P99Us / 1000:0.0} ms, CPU {cpu.TotalSeconds:0.0} s{(got.Complete ? "" : " INCOMPLETE")} {closed}");
        if (!got.Complete) results.Notes.Add($"fan-out on {Server.Name(kind)}: not every socket got every event in time ({got.Frames} of {ingested * sizes.FanoutSockets}) {closed}");
    }

    // ---- 9. cluster fan-out ----
    /// <summary>
    /// Three Akka.Sync nodes on loopback sharing PostgreSQL, one conversation, <c>ClusterSocketsPerNode</c> sockets on each
    /// node, events ingested through the first node in batches, paced by the slowest socket as in fan-out. Run twice in
    /// the same run: <c>Cluster:NodeRelay=false</c> (every socket subscribes to the conversation itself: one remote
    /// message per socket per write on the other nodes) and <c>true</c> (one relay per node: one remote message per node
    /// per write). Figures: deliveries/s, CPU per delivery summed over the three nodes, and bytes that crossed remoting
    /// per event (both directions, all three nodes: the TCP connections to the nodes' remoting ports, from
    /// <c>ss -tin</c>'s bytes_sent + bytes_received, before and after).
    /// </summary>
    public async Task ClusterFanoutAsync(string pg)
    {
        const string W = "9. cluster fan-out";
        foreach (var relay in new[] { false, true })
        {
            var label = relay ? "relay on" : "relay off";
            var ports = Enumerable.Range(0, 3).Select(_ => Server.FreePort()).ToArray();
            var nodes = new List<Server>();
            try
            {
                for (var i = 0; i < 3; i++)
                {
                    var env = new Dictionary<string, string>
                    {
                        ["Persistence__Provider"] = "PostgreSql",
                        ["Persistence__ConnectionString"] = pg,
                        ["Cluster__Host"] = "127.0.0.1",
                        ["Cluster__Port"] = ports[i].ToString(),
                        ["Cluster__SeedNodes__0"] = $"akka.tcp://akka-sync@127.0.0.1:{ports[0]}",
                        ["Cluster__NodeRelay"] = relay ? "true" : "false",
                    };
                    nodes.Add(Server.Start(paths, ServerKind.AkkaSync, $"cluster{i + 1}", env));
                }
                foreach (var n in nodes) await n.WaitReadyAsync(http, ReadyTimeout);
                await WaitMembersUpAsync(nodes[0], 3);
                var api = new Api(http, nodes[0].BaseUrl);
                var conversation = await api.CreateConversationAsync();
                await api.IngestAsync(conversation, 0, 1); // the entity starts on whichever node its shard lands on
                var hostAddress = await HostOfAsync(nodes[0], conversation);
                var host = Array.FindIndex(ports, p => hostAddress.EndsWith($":{p}", StringComparison.Ordinal)) + 1;
                var uris = nodes.SelectMany(n => Enumerable.Repeat(SocketUri(n, conversation), sizes.ClusterSocketsPerNode)).ToList();
                await using var receivers = await V1Receivers.ConnectAsync(uris, true, 64, TimeSpan.FromSeconds(60));
                // The sockets opened after the warm-up event (no resend_all): count from what each has now, whatever that is.
                await Task.Delay(1000);
                var baseline = receivers.Sockets.Select(s => s.Count).ToArray();
                var cpu0 = nodes.Select(n => n.Cpu()).ToArray();
                var bytes0 = RemotingBytes(ports);
                var t0 = Clock.NowUs();
                var sw = Stopwatch.StartNew();
                long ingested = 0;
                long Min() => receivers.Sockets.Select((s, i) => s.Count - baseline[i]).Min();
                while (ingested < sizes.ClusterEvents && sw.Elapsed < sizes.ClusterCap)
                {
                    while (ingested - Min() > sizes.FanoutWindow - sizes.FanoutBatch && sw.Elapsed < sizes.ClusterCap)
                        await Task.Delay(1);
                    var count = (int)Math.Min(sizes.FanoutBatch, sizes.ClusterEvents - ingested);
                    await api.IngestAsync(conversation, ingested + 1, count);
                    ingested += count;
                }
                var deadline = Stopwatch.StartNew();
                while (Min() < ingested && deadline.Elapsed < TimeSpan.FromSeconds(30)) await Task.Delay(5);
                var complete = Min() >= ingested;
                var got = await receivers.FinishAsync(0, TimeSpan.Zero);
                var frames = got.Frames - baseline.Sum();
                var cpu = nodes.Select((n, i) => n.Cpu() - cpu0[i]).Aggregate(TimeSpan.Zero, (a, b) => a + b);
                var bytes = RemotingBytes(ports) - bytes0;
                var seconds = (got.LastUs - t0) / 1e6;
                var rate = frames / seconds;
                results.Add(W, $"deliveries/s ({label})", "frames/s").Values[ServerKind.AkkaSync] = rate;
                results.Add(W, $"latency p99 ({label})", "ms", false).Values[ServerKind.AkkaSync] = got.Latency.P99Us / 1000;
                results.Add(W, $"server CPU per delivery, 3 nodes ({label})", "µs/delivery", false).Values[ServerKind.AkkaSync] = cpu.TotalMicroseconds / frames;
                results.Add(W, $"remoting bytes per event ({label})", "bytes/event", false).Values[ServerKind.AkkaSync] = (double)bytes / ingested;
                results.Add(W, $"events ingested ({label})", "events").Values[ServerKind.AkkaSync] = ingested;
                Log($"{label}: {ingested} events × {uris.Count} sockets on 3 nodes (conversation on node {host}), {frames} frames in {seconds:0.00} s = {rate:#,0}/s, " +
                    $"p99 {got.Latency.P99Us / 1000:0.0} ms, CPU {cpu.TotalSeconds:0.0} s over 3 nodes, remoting {bytes / 1e6:0.0} MB = {(double)bytes / ingested:#,0} bytes/event" +
                    $"{(complete ? "" : " INCOMPLETE")} {receivers.ClosedSummary()}");
                if (!complete) results.Notes.Add($"cluster fan-out ({label}): not every socket got every event in time");
            }
            finally
            {
                foreach (var n in nodes) await n.DisposeAsync();
            }
        }
    }

    /// <summary>Waits until <paramref name="via"/> sees <paramref name="count"/> members Up (GET /cluster), bounded.</summary>
    private async Task WaitMembersUpAsync(Server via, int count)
    {
        var sw = Stopwatch.StartNew();
        while (sw.Elapsed < ReadyTimeout)
        {
            using var doc = JsonDocument.Parse(await http.GetStringAsync($"{via.BaseUrl}/cluster"));
            if (doc.RootElement.GetProperty("members").EnumerateArray().Count(m => m.GetProperty("status").GetString() == "up") >= count) return;
            await Task.Delay(100);
        }
        throw new TimeoutException($"the cluster did not have {count} members Up within {ReadyTimeout}");
    }

    /// <summary>The address of the node that hosts the conversation's shard (GET /cluster/conversations/{id}).</summary>
    private async Task<string> HostOfAsync(Server via, string conversation)
    {
        using var doc = JsonDocument.Parse(await http.GetStringAsync($"{via.BaseUrl}/cluster/conversations/{conversation}"));
        return doc.RootElement.GetProperty("node").GetString() ?? "";
    }

    /// <summary>Bytes sent plus received on every established TCP connection whose local port is one of <paramref name="ports"/>
    /// (each remoting connection has exactly one end on a node's remoting port, so each is counted once).</summary>
    private static long RemotingBytes(int[] ports)
    {
        var psi = new ProcessStartInfo("ss", ["-tinH", "state", "established"]) { RedirectStandardOutput = true, UseShellExecute = false };
        using var p = Process.Start(psi)!;
        var lines = p.StandardOutput.ReadToEnd().Split('\n');
        p.WaitForExit();
        long total = 0;
        var counting = false;
        foreach (var line in lines)
        {
            if (line.Length == 0) continue;
            if (!char.IsWhiteSpace(line[0]))
            {
                var local = line.Split(' ', StringSplitOptions.RemoveEmptyEntries).FirstOrDefault(f => f.Contains(':'));
                counting = local is not null && int.TryParse(local[(local.LastIndexOf(':') + 1)..], out var port) && ports.Contains(port);
                continue;
            }
            if (!counting) continue;
            foreach (var f in line.Split(' ', StringSplitOptions.RemoveEmptyEntries))
                if ((f.StartsWith("bytes_sent:", StringComparison.Ordinal) || f.StartsWith("bytes_received:", StringComparison.Ordinal))
                    && long.TryParse(f[(f.IndexOf(':') + 1)..], out var b))
                    total += b;
        }
        return total;
    }

    private void AddLatency(string workload, ServerKind kind, Latency latency)
    {
        results.Add(workload, "latency p50", "ms", false).Values[kind] = latency.P50Us / 1000;
        results.Add(workload, "latency p99", "ms", false).Values[kind] = latency.P99Us / 1000;
        results.Add(workload, "latency p99.9", "ms", false).Values[kind] = latency.P999Us / 1000;
    }

    // ---- 2. many conversations ----
    /// <summary>C conversations × 2 sockets; every conversation gets the same number of events, spread over time
    /// by 16 producers taking (conversation, batch) jobs round-robin. The workload runs in rounds on the same server, each
    /// on C new conversations with new sockets: the first round's figures are reported as "first run after start"; rounds
    /// go on until the server has run the workload for <c>WarmUp</c> (tiered JIT, pools, the journal's first writes),
    /// then three more rounds are measured and each figure is their median (latency: the median round's).</summary>
    public async Task ManyAsync(ServerKind kind)
    {
        const string W = "2. many conversations";
        await using var server = await StartAsync(kind, "many");
        var api = new Api(http, server.BaseUrl);
        var warm = Stopwatch.StartNew();
        var first = await ManyRoundAsync(server, api);
        results.Add(W, "deliveries/s, first run after start", "frames/s").Values[kind] = first.Frames / first.Seconds;
        results.Add(W, "server CPU per delivery, first run after start", "µs/delivery", false).Values[kind] = first.Cpu.TotalMicroseconds / first.Frames;
        Log($"{Server.Name(kind)}: first round {first.Summary}");
        for (var round = 2; round <= 10 && warm.Elapsed < sizes.WarmUp; round++)
            Log($"{Server.Name(kind)}: warm-up round {(await ManyRoundAsync(server, api)).Summary}");
        var measured = new List<ManyRound>();
        for (var round = 1; round <= ManyMeasuredRounds; round++)
        {
            var r = await ManyRoundAsync(server, api);
            measured.Add(r);
            Log($"{Server.Name(kind)}: measured round {round}/{ManyMeasuredRounds} {r.Summary}");
        }
        // One round is ~1 s of load on Akka.Sync and ~0.5 s on bare Kestrel: single rounds varied ±25 % (bench/NOTES.md,
        // "the many-conversations figure"), so each figure is the median of the measured rounds.
        results.Add(W, "deliveries/s", "frames/s").Values[kind] = Median(measured.Select(r => r.Frames / r.Seconds));
        results.Add(W, "ingested events/s", "events/s").Values[kind] =
            Median(measured.Select(r => (double)sizes.ManyConversations * sizes.ManyEventsPerConversation / r.Seconds));
        AddLatency(W, kind, measured.OrderBy(r => r.Frames / r.Seconds).ElementAt(measured.Count / 2).Latency);
        results.Add(W, "server CPU per delivery", "µs/delivery", false).Values[kind] = Median(measured.Select(r => r.Cpu.TotalMicroseconds / r.Frames));
        results.Add(W, "server RSS", "MB", false).Values[kind] = server.Rss() / 1e6;
    }

    /// <summary>Rounds measured once warm; the many-conversations figures are their medians.</summary>
    private const int ManyMeasuredRounds = 3;

    private static double Median(IEnumerable<double> values)
    {
        var sorted = values.Order().ToArray();
        return sorted[sorted.Length / 2];
    }

    private sealed record ManyRound(long Frames, double Seconds, TimeSpan Cpu, Latency Latency, string Summary);

    private async Task<ManyRound> ManyRoundAsync(Server server, Api api)
    {
        var conversations = new string[sizes.ManyConversations];
        using (var gate = new SemaphoreSlim(16))
            await Task.WhenAll(Enumerable.Range(0, conversations.Length).Select(async i =>
            {
                await gate.WaitAsync();
                try { conversations[i] = await api.CreateConversationAsync(); } finally { gate.Release(); }
            }));
        var uris = conversations.SelectMany(c => new[] { SocketUri(server, c), SocketUri(server, c) }).ToList();
        await using var receivers = await V1Receivers.ConnectAsync(uris, true, 64, TimeSpan.FromSeconds(120));
        await Task.Delay(1000);
        var jobs = new List<(string Conversation, long First, int Count)>();
        for (var b = 0; b < sizes.ManyEventsPerConversation; b += sizes.ManyBatch)
            foreach (var c in conversations)
                jobs.Add((c, b + 1, Math.Min(sizes.ManyBatch, sizes.ManyEventsPerConversation - b)));
        var cpu0 = server.Cpu();
        var t0 = Clock.NowUs();
        var next = -1;
        var deadline = Stopwatch.StartNew();
        await Task.WhenAll(Enumerable.Range(0, 16).Select(async _ =>
        {
            int j;
            while ((j = Interlocked.Increment(ref next)) < jobs.Count && deadline.Elapsed < TimeSpan.FromSeconds(60))
                await api.IngestAsync(jobs[j].Conversation, jobs[j].First, jobs[j].Count);
        }));
        var got = await receivers.FinishAsync(sizes.ManyEventsPerConversation, TimeSpan.FromSeconds(30));
        var cpu = server.Cpu() - cpu0;
        var seconds = (got.LastUs - t0) / 1e6;
        var summary = $"{sizes.ManyConversations} conversations × 2 sockets, {got.Frames} frames in {seconds:0.00} s, CPU {cpu.TotalSeconds:0.00} s, " +
            $"p50 {got.Latency.P50Us / 1000:0.0} ms p99 {got.Latency.P99Us / 1000:0.0} ms{(got.Complete ? "" : " INCOMPLETE")} {receivers.ClosedSummary()}";
        if (!got.Complete) results.Notes.Add($"many conversations on {Server.Name(server.Kind)}: incomplete ({got.Frames} frames) {receivers.ClosedSummary()}");
        return new ManyRound(got.Frames, seconds, cpu, got.Latency, summary);
    }

    // ---- 3. replay ----
    /// <summary>A conversation of R events; a new socket with resend_all=true, then one with after_event_id of the
    /// middle event; time from starting the connect to the last frame, median of the runs.</summary>
    public async Task ReplayAsync(ServerKind kind)
    {
        const string W = "3. replay";
        await using var server = await StartAsync(kind, "replay");
        var api = new Api(http, server.BaseUrl);
        var conversation = await api.CreateConversationAsync();
        if (kind == ServerKind.SocketIo)
        {
            var outcome = await NodeReplayAsync(server, conversation);
            results.Add(W, $"all {sizes.ReplayEvents:#,0} events: time to last frame", "ms", false).Values[kind] = outcome;
            return;
        }
        var ids = new List<string>(sizes.ReplayEvents);
        for (var n = 0; n < sizes.ReplayEvents; n += 1000)
            ids.AddRange(await api.IngestAsync(conversation, n + 1, Math.Min(1000, sizes.ReplayEvents - n)));
        var middle = ids[sizes.ReplayEvents / 2 - 1];
        var all = new List<double>();
        var half = new List<double>();
        for (var run = 0; run < sizes.ReplayRuns; run++)
        {
            all.Add(await TimeReplayAsync(SocketUri(server, conversation, "?resend_all=true"), sizes.ReplayEvents));
            half.Add(await TimeReplayAsync(SocketUri(server, conversation, $"?after_event_id={middle}"), sizes.ReplayEvents - sizes.ReplayEvents / 2));
        }
        all.Sort(); half.Sort();
        results.Add(W, $"all {sizes.ReplayEvents:#,0} events: time to last frame", "ms", false).Values[kind] = all[all.Count / 2];
        results.Add(W, "after_event_id (middle): time to last frame", "ms", false).Values[kind] = half[half.Count / 2];
        Log($"{Server.Name(kind)}: replay all {string.Join(" / ", all.Select(x => x.ToString("0")))} ms, from the middle {string.Join(" / ", half.Select(x => x.ToString("0")))} ms");
    }

    private static async Task<double> TimeReplayAsync(Uri uri, long expected)
    {
        var t0 = Clock.NowUs();
        await using var r = await V1Receivers.ConnectAsync([uri], false, 1, TimeSpan.FromSeconds(30));
        var got = await r.FinishAsync(expected, TimeSpan.FromSeconds(60));
        if (!got.Complete) throw new InvalidOperationException($"replay incomplete: {got.Frames} of {expected} {r.ClosedSummary()}");
        return (got.LastUs - t0) / 1000.0;
    }

    private async Task<double> NodeReplayAsync(Server server, string conversation)
    {
        var psi = new ProcessStartInfo("node", [Path.Combine(paths.SocketIoDir, "receivers.js"), "replay", server.BaseUrl, conversation, sizes.ReplayEvents.ToString()])
        { RedirectStandardOutput = true, UseShellExecute = false };
        using var p = Process.Start(psi)!;
        var output = await p.StandardOutput.ReadToEndAsync().WaitAsync(TimeSpan.FromSeconds(120));
        await p.WaitForExitAsync();
        using var doc = System.Text.Json.JsonDocument.Parse(output.Trim().Split('\n').Last());
        var seconds = doc.RootElement.GetProperty("seconds").GetDouble();
        var recovered = doc.RootElement.GetProperty("recovered").GetBoolean();
        var frames = doc.RootElement.GetProperty("frames").GetInt64();
        Log($"socket.io: connection-state recovery of {frames} missed packets in {seconds * 1000:0} ms (recovered={recovered})");
        if (!recovered || frames < sizes.ReplayEvents) results.Notes.Add($"socket.io replay: recovered={recovered}, {frames} of {sizes.ReplayEvents} packets");
        return seconds < 0 ? double.NaN : seconds * 1000;
    }

    // ---- 4. idle connections ----
    /// <summary>RSS after a warm-up of 200 sockets, then N more idle sockets; memory per connection = ΔRSS / N.</summary>
    public async Task IdleAsync(ServerKind kind)
    {
        const string W = "4. idle sockets";
        await using var server = await StartAsync(kind, "idle");
        var api = new Api(http, server.BaseUrl);
        var conversations = new List<string>();
        for (var i = 0; i < 20; i++) conversations.Add(await api.CreateConversationAsync());
        await using var warm = await V1Receivers.ConnectAsync(
            Enumerable.Range(0, 200).Select(i => SocketUri(server, conversations[i % 20])).ToList(), false, 32, TimeSpan.FromSeconds(60));
        await Task.Delay(2000);
        var rss0 = server.Rss();
        var sw = Stopwatch.StartNew();
        await using var idle = await V1Receivers.ConnectAsync(
            Enumerable.Range(0, sizes.IdleSockets).Select(i => SocketUri(server, conversations[i % 20])).ToList(), false, 64, TimeSpan.FromSeconds(180));
        var connectSeconds = sw.Elapsed.TotalSeconds;
        await Task.Delay(3000);
        var rss1 = server.Rss();
        var cpu0 = server.Cpu();
        await Task.Delay(2000);
        var idleCpu = server.Cpu() - cpu0;
        var perSocket = (rss1 - rss0) / (double)sizes.IdleSockets / 1024;
        results.Add(W, "server memory per idle socket", "KB", false).Values[kind] = perSocket;
        results.Add(W, "connects/s", "sockets/s").Values[kind] = sizes.IdleSockets / connectSeconds;
        results.Add(W, $"RSS with {sizes.IdleSockets:#,0} sockets", "MB", false).Values[kind] = rss1 / 1e6;
        Log($"{Server.Name(kind)}: {sizes.IdleSockets} idle sockets, RSS {rss0 / 1e6:0} → {rss1 / 1e6:0} MB = {perSocket:0.0} KB each, " +
            $"connected in {connectSeconds:0.0} s, idle CPU {idleCpu.TotalMilliseconds / 2:0} ms/s {idle.ClosedSummary()}");
    }

    // ---- 5. ingest ----
    /// <summary>P producers, each on its own conversation, posting batches back to back until E events are stored. The
    /// run is made in rounds on the same server, each on P new conversations: the first round's figures are reported as
    /// "first run after start"; rounds go on until the server has ingested for <c>WarmUp</c> (tiered JIT, the connection
    /// pool, the journal's first writes), then one more round is measured.</summary>
    public async Task IngestAsync(ServerKind kind, string label, IDictionary<string, string>? env = null, int? batchSize = null)
    {
        const string W = "5. ingest";
        var batch = batchSize ?? sizes.IngestBatch;
        await using var server = await StartAsync(kind, "ingest", env);
        var api = new Api(http, server.BaseUrl);
        var warm = Stopwatch.StartNew();
        var (firstRate, firstCpu) = await IngestRoundAsync(server, api, batch);
        for (var round = 2; round <= 40 && warm.Elapsed < sizes.WarmUp; round++) await IngestRoundAsync(server, api, batch);
        results.Add(W, $"events/s stored, first run after start ({label}, batches of {batch})", "events/s").Values[kind] = firstRate;
        results.Add(W, $"server CPU per event, first run after start ({label}, batches of {batch})", "µs/event", false).Values[kind] = firstCpu;
        var (rate, cpu) = await IngestRoundAsync(server, api, batch);
        results.Add(W, $"events/s stored ({label}, batches of {batch})", "events/s").Values[kind] = rate;
        results.Add(W, $"server CPU per event ({label}, batches of {batch})", "µs/event", false).Values[kind] = cpu;
        Log($"{Server.Name(kind)} {label}: {sizes.IngestEvents} events in batches of {batch} by {sizes.IngestProducers} producers: " +
            $"first run after start {firstRate:#,0}/s at {firstCpu:0.0} µs of CPU per event; measured run {rate:#,0}/s at {cpu:0.0} µs");
    }

    /// <summary>One ingest round on new conversations: events/s and server CPU µs per event.</summary>
    private async Task<(double Rate, double CpuPerEventUs)> IngestRoundAsync(Server server, Api api, int batch)
    {
        var conversations = new List<string>();
        for (var i = 0; i < sizes.IngestProducers; i++) conversations.Add(await api.CreateConversationAsync());
        // Each conversation's first write (its entity's start, the connection pool) is not counted.
        foreach (var c in conversations) await api.IngestAsync(c, 0, batch);
        var perProducer = sizes.IngestEvents / sizes.IngestProducers;
        var cpu0 = server.Cpu();
        var sw = Stopwatch.StartNew();
        await Task.WhenAll(conversations.Select(async c =>
        {
            for (var n = 0; n < perProducer && sw.Elapsed < TimeSpan.FromSeconds(60); n += batch)
                await api.IngestAsync(c, n + 1, Math.Min(batch, perProducer - n));
        }));
        var seconds = sw.Elapsed.TotalSeconds;
        var cpu = server.Cpu() - cpu0;
        return (perProducer * sizes.IngestProducers / seconds, cpu.TotalMicroseconds / (perProducer * sizes.IngestProducers));
    }

    // ---- 6. cold start ----
    /// <summary>Process start → GET /ready 200, on a fresh data folder; median of the runs.</summary>
    public async Task ColdStartAsync(ServerKind kind)
    {
        const string W = "6. cold start";
        var times = new List<double>();
        for (var i = 0; i < sizes.ColdStarts; i++)
        {
            var server = Server.Start(paths, kind, "cold");
            try { times.Add((await server.WaitReadyAsync(http, ReadyTimeout)).TotalMilliseconds); }
            finally { await server.DisposeAsync(); }
        }
        times.Sort();
        results.Add(W, "start → /ready", "ms", false).Values[kind] = times[times.Count / 2];
        Log($"{Server.Name(kind)}: start → ready {string.Join(" / ", times.Select(t => t.ToString("0")))} ms");
    }

    // ---- 8. 100k sockets on one node ----
    /// <summary>
    /// N concurrent V1 sockets on one server over C conversations (N = <c>ScaleSockets</c>, fewer when this process'
    /// descriptor limit, which the server inherits, cannot hold them). The server listens on several loopback addresses
    /// (127.0.0.1…k) so ephemeral ports are not the limit; the sockets are raw minimal clients (<see cref="RawSocket"/>)
    /// in child processes of <c>ScaleSocketsPerClient</c> each. Figures: the process at rest before any socket (RSS, CPU),
    /// connect rate, RSS per socket, CPU at rest with protocol pings on (one ping interval), and one event posted to every
    /// conversation: time from the first post until the last socket has it, and each socket's ingest→receive latency.
    /// </summary>
    public async Task ScaleAsync(ServerKind kind)
    {
        const string W = "8. 100k sockets";
        var limit = DescriptorLimit();
        // The server needs a few hundred descriptors of its own (journal, listeners, epoll, pipes).
        var sockets = Math.Min(sizes.ScaleSockets, (int)Math.Min(int.MaxValue, limit - 1_000)) / sizes.ScaleConversations * sizes.ScaleConversations;
        if (sockets < sizes.ScaleSockets)
            results.Notes.Add($"100k sockets on {Server.Name(kind)}: {sockets:#,0} sockets, not {sizes.ScaleSockets:#,0}: this machine's descriptor limit " +
                              $"(RLIMIT_NOFILE {limit:#,0}, hard; raising it needs CAP_SYS_RESOURCE) caps one process");
        var perClient = (int)Math.Min(sizes.ScaleSocketsPerClient, limit - 200);
        var addresses = Enumerable.Range(1, Math.Max(2, (sockets + 19_999) / 20_000)).Select(i => IPAddress.Parse($"127.0.0.{i}")).ToList();
        var port = Server.FreePortOn(addresses);
        var env = new Dictionary<string, string>
        {
            ["ASPNETCORE_URLS"] = string.Join(';', addresses.Select(a => $"http://{a}:{port}")),
            ["Limits__MaxSocketsPerNode"] = (sockets + 1_000).ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["BASELINE_PING_SECONDS"] = "20",
        };
        await using var server = await StartAsync(kind, "scale", env, port);
        var api = new Api(http, server.BaseUrl);
        // The process at rest: started, ready, nothing connected, its start-up work (cluster forming, tiered JIT) done.
        // 60 s: an idle Akka.Sync node's CPU per 10 s after ready was 111, 21, 13, 21, 7, 8, 10, 8, 7, 8 ms/s — tiered
        // compilation re-compiling its periodic work (libclrjit ~11 % of the CPU samples 10–25 s after ready) and the
        // cluster's first rounds; at 10 s the figure was twice the steady one (bench/NOTES.md, "process at rest").
        await Task.Delay(60_000);
        var restCpu0 = server.Cpu();
        var restSw = Stopwatch.StartNew();
        await Task.Delay(sizes.ScaleRestWindow / 2);
        var restCpu = (server.Cpu() - restCpu0).TotalMilliseconds / restSw.Elapsed.TotalSeconds;
        var restRss = server.Rss();
        var conversations = new string[sizes.ScaleConversations];
        using (var gate = new SemaphoreSlim(16))
            await Task.WhenAll(Enumerable.Range(0, conversations.Length).Select(async i =>
            {
                await gate.WaitAsync();
                try { conversations[i] = await api.CreateConversationAsync(); } finally { gate.Release(); }
            }));
        var file = Path.Combine(paths.Work, $"scale-{port}-conversations.txt");
        await File.WriteAllLinesAsync(file, conversations);
        await Task.Delay(1000);
        var rss0 = server.Rss();
        var sw = Stopwatch.StartNew();
        var (clients, ok, failed, error) = await RawSocketClients.ConnectAsync(paths.LoadDll, addresses.Select(a => new IPEndPoint(a, port)).ToList(),
            file, sockets, perClient, 100, TimeSpan.FromSeconds(300));
        await using var _ = clients;
        var connectSeconds = sw.Elapsed.TotalSeconds;
        if (failed > 0) results.Notes.Add($"100k sockets on {Server.Name(kind)}: {failed:#,0} of {sockets:#,0} connects failed (first: {error})");
        // Every socket subscribed: a first event in every conversation (resend_all, so a socket still subscribing gets it by replay).
        await PostToAllAsync(api, conversations, 1);
        var subscribed = await clients.WaitForAsync(1, TimeSpan.FromSeconds(120));
        await Task.Delay(3000);
        var rss1 = server.Rss();
        var cpu0 = server.Cpu();
        sw.Restart();
        await Task.Delay(sizes.ScaleRestWindow);
        var idleCpu = (server.Cpu() - cpu0).TotalMilliseconds / sw.Elapsed.TotalSeconds;
        // One event to every socket: one post per conversation, all at once (64 in flight).
        var t0 = Clock.NowUs();
        await PostToAllAsync(api, conversations, 2);
        var complete = await clients.WaitForAsync(2, TimeSpan.FromSeconds(120));
        var (latencies, lastUs, closes) = await clients.ReportAsync();
        var h = new HdrHistogram.LongHistogram(600_000_000, 3);
        foreach (var l in latencies) h.RecordValue(Math.Clamp(l, 0, 599_999_999));
        var perSocket = (rss1 - rss0) / (double)ok / 1024;
        results.Add(W, "sockets connected", "sockets").Values[kind] = ok;
        results.Add(W, "process at rest, no sockets: RSS", "MB", false).Values[kind] = restRss / 1e6;
        results.Add(W, "process at rest, no sockets: CPU", "ms/s", false).Values[kind] = restCpu;
        results.Add(W, "connects/s", "sockets/s").Values[kind] = ok / connectSeconds;
        results.Add(W, "server RSS per socket", "KB", false).Values[kind] = perSocket;
        results.Add(W, "server RSS with every socket open", "MB", false).Values[kind] = rss1 / 1e6;
        results.Add(W, "server CPU at rest with every socket open, pings every 20 s", "ms/s", false).Values[kind] = idleCpu;
        results.Add(W, "one event to every socket: time to the last", "ms", false).Values[kind] = (lastUs - t0) / 1000.0;
        results.Add(W, "one event to every socket: latency p50", "ms", false).Values[kind] = h.GetValueAtPercentile(50) / 1000.0;
        results.Add(W, "one event to every socket: latency p99", "ms", false).Values[kind] = h.GetValueAtPercentile(99) / 1000.0;
        Log($"{Server.Name(kind)}: at rest {restRss / 1e6:0} MB, {restCpu:0} ms/s; {ok:#,0} sockets ({failed} failed) on {addresses.Count} addresses in {connectSeconds:0.0} s; " +
            $"RSS {rss0 / 1e6:0} → {rss1 / 1e6:0} MB = {perSocket:0.0} KB each; at rest with pings {idleCpu:0} ms/s; broadcast: last after {(lastUs - t0) / 1000.0:0} ms, " +
            $"p50 {h.GetValueAtPercentile(50) / 1000.0:0.0} ms p99 {h.GetValueAtPercentile(99) / 1000.0:0.0} ms{(subscribed ? "" : " NOT ALL SUBSCRIBED")}{(complete ? "" : " INCOMPLETE")}" +
            $"{(clients.Closed > 0 ? $"; {clients.Closed} closed ({closes})" : "")}");
        if (!complete) results.Notes.Add($"100k sockets on {Server.Name(kind)}: the broadcast did not reach every socket in 120 s ({latencies.Length} reported; {clients.Closed} closed: {closes})");
    }

    private static async Task PostToAllAsync(Api api, IReadOnlyList<string> conversations, long n)
    {
        using var gate = new SemaphoreSlim(64);
        await Task.WhenAll(conversations.Select(async c =>
        {
            await gate.WaitAsync();
            try { await api.IngestAsync(c, n, 1); } finally { gate.Release(); }
        }));
    }

    /// <summary>This process' open-file limit (soft), which the servers and clients it starts inherit.</summary>
    private static long DescriptorLimit()
    {
        foreach (var line in File.ReadLines("/proc/self/limits"))
            if (line.StartsWith("Max open files", StringComparison.Ordinal))
                return long.Parse(line["Max open files".Length..].Split(' ', StringSplitOptions.RemoveEmptyEntries)[0]);
        return 1024;
    }
}
