using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;
using Akka.Sync.Bench.Load;

// bench/run → this program: runs every workload against Akka.Sync and its baselines (each server a child process on
// 127.0.0.1), prints the table and, for a full run, writes docs/benchmarks.md and docs/bench/*.svg.
// Options: --quick (small sizes; writes under bench/results/quick), --only fanout,many,replay,idle,ingest,cold,scale,clusterfanout,long
//          (long — one conversation of 1,000,000 events on SQLite and PostgreSQL — runs only when named),
//          --long-events <n>, --servers akka,kestrel,socketio, --root <repo>, --out <folder for benchmarks.md and bench/*.svg>.
CultureInfo.DefaultThreadCurrentCulture = CultureInfo.InvariantCulture;
CultureInfo.CurrentCulture = CultureInfo.InvariantCulture;
if (args.Length > 0 && args[0] == "--socket-client") return await SocketClientProcess.RunAsync(args);
var argList = args.ToList();
string? Option(string name) { var i = argList.IndexOf(name); return i >= 0 && i + 1 < argList.Count ? argList[i + 1] : null; }
var quick = argList.Contains("--quick");
var root = Path.GetFullPath(Option("--root") ?? Directory.GetCurrentDirectory());
var only = (Option("--only") ?? "fanout,many,replay,idle,ingest,cold,scale,clusterfanout").Split(',');
var serverNames = (Option("--servers") ?? "akka,kestrel,socketio").Split(',');
var servers = new List<ServerKind>();
if (serverNames.Contains("akka")) servers.Add(ServerKind.AkkaSync);
if (serverNames.Contains("kestrel")) servers.Add(ServerKind.Kestrel);
if (serverNames.Contains("socketio")) servers.Add(ServerKind.SocketIo);
var pg = Environment.GetEnvironmentVariable("BENCH_PG_CONNECTION");
// The bare Kestrel baseline keeps events in memory: its ingest sits on the SQLite row as the no-persistence ceiling.
const string SqliteLabel = "SQLite; bare Kestrel: in memory";

var paths = new Paths(root);
Directory.CreateDirectory(paths.Work);
var sizes = quick ? Sizes.Quick : Sizes.Full;
var results = new Results();
using var http = new HttpClient(new SocketsHttpHandler { MaxConnectionsPerServer = 64, PooledConnectionLifetime = TimeSpan.FromMinutes(5) })
{ Timeout = TimeSpan.FromSeconds(60) };
var workloads = new Workloads(paths, sizes, results, http);
var longEvents = int.TryParse(Option("--long-events"), out var le) ? le : quick ? 20_000 : 1_000_000;
var longRuns = new List<LongConversation.Figures>();
var longNotes = new List<string>();
var machineStart = DateTime.UtcNow;
var loadBefore = LoadAverage();
var total = Stopwatch.StartNew();
var budget = TimeSpan.FromMinutes(quick ? 5 : only.Contains("long") ? 40 : 13);

async Task Run(string key, string title, Func<Task> body)
{
    if (!only.Contains(key)) return;
    if (total.Elapsed > budget) { results.Notes.Add($"{title}: skipped, the run's time budget ({budget.TotalMinutes} min) was spent"); return; }
    Console.WriteLine($"{title}");
    try { await body(); }
    catch (Exception e)
    {
        Console.WriteLine($"  FAILED: {e.GetType().Name}: {e.Message}");
        results.Notes.Add($"{title}: failed — {e.GetType().Name}: {e.Message}");
    }
}

await Run("cold", "6. cold start", async () => { foreach (var s in servers) await workloads.ColdStartAsync(s); });
await Run("fanout", "1. fan-out", async () => { foreach (var s in servers) await workloads.FanoutAsync(s); });
await Run("many", "2. many conversations", async () => { foreach (var s in servers.Where(s => s != ServerKind.SocketIo)) await workloads.ManyAsync(s); });
await Run("replay", "3. replay", async () => { foreach (var s in servers) await workloads.ReplayAsync(s); });
await Run("idle", "4. idle sockets", async () => { foreach (var s in servers.Where(s => s != ServerKind.SocketIo)) await workloads.IdleAsync(s); });
await Run("ingest", "5. ingest", async () =>
{
    if (servers.Contains(ServerKind.AkkaSync))
    {
        await workloads.IngestAsync(ServerKind.AkkaSync, SqliteLabel);
        await workloads.IngestAsync(ServerKind.AkkaSync, SqliteLabel, batchSize: 1000);
        if (pg is { Length: > 0 })
        {
            var env = new Dictionary<string, string> { ["Persistence__Provider"] = "PostgreSql", ["Persistence__ConnectionString"] = pg };
            await workloads.IngestAsync(ServerKind.AkkaSync, "PostgreSQL", env);
            await workloads.IngestAsync(ServerKind.AkkaSync, "PostgreSQL", env, batchSize: 1000);
        }
        else results.Notes.Add("ingest on PostgreSQL: skipped (no PostgreSQL cluster found; bench/run starts one when `pg_ctlcluster` is present)");
    }
    if (servers.Contains(ServerKind.Kestrel))
    {
        await workloads.IngestAsync(ServerKind.Kestrel, SqliteLabel);
        await workloads.IngestAsync(ServerKind.Kestrel, SqliteLabel, batchSize: 1000);
    }
});
await Run("scale", "8. 100k sockets", async () => { foreach (var s in servers.Where(s => s != ServerKind.SocketIo)) await workloads.ScaleAsync(s); });

await Run("clusterfanout", "9. cluster fan-out", async () =>
{
    if (!servers.Contains(ServerKind.AkkaSync)) return;
    if (pg is { Length: > 0 }) await workloads.ClusterFanoutAsync(pg);
    else results.Notes.Add("cluster fan-out: skipped (it needs PostgreSQL; bench/run starts one when `pg_ctlcluster` is present)");
});

await Run("long", "7. long conversation", async () =>
{
    var workload = new LongConversation(paths, http, longEvents);
    longRuns.Add(await workload.RunAsync("SQLite", null, null));
    if (pg is { Length: > 0 })
    {
        var env = new Dictionary<string, string> { ["Persistence__Provider"] = "PostgreSql", ["Persistence__ConnectionString"] = pg };
        longRuns.Add(await workload.RunAsync("PostgreSQL", env, pg));
    }
    else longNotes.Add("PostgreSQL: skipped (no PostgreSQL cluster found; bench/run starts one when `pg_ctlcluster` is present)");
});

var ordered = results.Metrics.OrderBy(m => m.Workload, StringComparer.Ordinal).ToList(); // stable: figures keep their order
results.Metrics.Clear();
results.Metrics.AddRange(ordered);
// ---- targets ----
Metric? Find(string workload, string name) => results.Metrics.FirstOrDefault(m => m.Workload == workload && m.Name.StartsWith(name, StringComparison.Ordinal));
var targets = new List<Target>();
void Check(string name, double? value, Func<double, bool> ok, Func<double, string> show) =>
    targets.Add(new Target(name, value is { } v ? show(v) : "not measured", value is { } x ? ok(x) : null));
var fan = Find("1. fan-out", "deliveries/s");
var p99 = Find("1. fan-out", "latency p99");
Check("fan-out throughput ≥ 0.6× bare Kestrel", fan?.Ratio(ServerKind.Kestrel), r => r >= 0.6, r => $"{r:0.00}× ({Results.Format(fan!.Of(ServerKind.AkkaSync) ?? double.NaN, "frames/s")} vs {Results.Format(fan.Of(ServerKind.Kestrel) ?? double.NaN, "frames/s")} frames/s)");
Check("fan-out throughput ≥ 2× socket.io", fan?.Ratio(ServerKind.SocketIo), r => r >= 2, r => $"{r:0.00}× (socket.io {Results.Format(fan!.Of(ServerKind.SocketIo) ?? double.NaN, "frames/s")} frames/s)");
Check("fan-out p99 latency ≤ 2× bare Kestrel", p99?.Ratio(ServerKind.Kestrel), r => r <= 2, r => $"{r:0.00}× ({p99!.Of(ServerKind.AkkaSync):0.0} ms vs {p99.Of(ServerKind.Kestrel):0.0} ms)");
var replay = Find("3. replay", "all");
Check($"replay of {sizes.ReplayEvents:#,0} events ≤ 1 s to the last frame", replay?.Of(ServerKind.AkkaSync), v => v <= 1000, v => $"{v:0} ms");
var idle = Find("4. idle sockets", "server memory per idle socket");
Check("idle socket ≤ 20 KB of server memory", idle?.Of(ServerKind.AkkaSync), v => v <= 20, v => $"{v:0.0} KB");
foreach (var b in new[] { sizes.IngestBatch, 1000 })
{
    var ingest = Find("5. ingest", $"events/s stored ({SqliteLabel}, batches of {b})");
    Check($"ingest ≥ 10,000 events/s on SQLite, batches of {b}", ingest?.Of(ServerKind.AkkaSync), v => v >= 10_000, v => $"{v:#,0} events/s");
}
var cold = Find("6. cold start", "start");
Check("cold start ≤ 3 s to /ready", cold?.Of(ServerKind.AkkaSync), v => v <= 3000, v => $"{v:0} ms");

var otherRan = results.Metrics.Count > 0;
if (otherRan)
{
    Console.WriteLine();
    Console.Write(Report.Table(results));
    Console.WriteLine();
    Console.Write(Report.TargetsTable(targets));
}
if (longRuns.Count > 0)
{
    Console.WriteLine();
    Console.Write(LongReport.Table(longRuns));
}
foreach (var n in results.Notes.Concat(longNotes)) Console.WriteLine($"note: {n}");

// ---- docs ----
var machine = new Machine(machineStart, Environment.ProcessorCount, CpuModel(), MemoryGiB(), RuntimeInformation.FrameworkDescription,
    NodeVersion(), loadBefore, LoadAverage());
var docs = Option("--out") is { } outDir ? Path.GetFullPath(outDir) : quick ? Path.Combine(paths.Results, "quick") : paths.Docs;
Directory.CreateDirectory(Path.Combine(docs, "bench"));
var notesFile = Path.Combine(root, "bench/NOTES.md");
var notes = File.Exists(notesFile) ? File.ReadAllText(notesFile) : "";
var docsFile = Path.Combine(docs, "benchmarks.md");
var existing = File.Exists(docsFile) ? File.ReadAllText(docsFile) : "";
// The long-conversation section is its own: a run of it replaces only that section, a run without it keeps it.
var longNotesFile = Path.Combine(root, "bench/LONG-NOTES.md");
var longSection = longRuns.Count > 0
    ? LongReport.Markdown(longRuns, longEvents, machine, $"./bench/run --only long{(quick ? " --quick" : "")}",
        results.Notes.Where(n => n.StartsWith("7.", StringComparison.Ordinal)).Concat(longNotes),
        File.Exists(longNotesFile) ? File.ReadAllText(longNotesFile) : "")
    : LongReport.Existing(existing);
// A partial run (--only) into the docs replaces the sections of the workloads it ran and keeps every other one.
var partial = Option("--only") is not null && !quick && Option("--out") is null && existing.Length > 0;
var markdown = !otherRan ? existing
    : partial ? Report.ReplaceNotes(Report.MergeSections(existing, results, machine, $"./bench/run --only {Option("--only")}"), notes)
    : Report.Markdown(results, targets, machine, quick ? "./bench/run --quick" : "./bench/run", notes);
if (longSection is not null) markdown = LongReport.Replace(markdown, longSection);
File.WriteAllText(docsFile, markdown);
foreach (var group in results.Metrics.GroupBy(m => m.Workload))
    File.WriteAllText(Path.Combine(docs, "bench", Report.Slug(group.Key) + ".svg"), Report.Svg(group.Key, group.ToList()));
File.WriteAllText(Path.Combine(paths.Results, $"results-{machineStart:yyyyMMdd-HHmmss}{(quick ? "-quick" : "")}.txt"),
    (otherRan ? Report.Table(results) + Report.TargetsTable(targets) : "") + (longRuns.Count > 0 ? LongReport.Table(longRuns) : ""));
Console.WriteLine($"\nwrote {Path.GetRelativePath(root, Path.Combine(docs, "benchmarks.md"))} and its charts in {total.Elapsed.TotalSeconds:0} s");
return 0;

static string LoadAverage() => string.Join(' ', File.ReadAllText("/proc/loadavg").Split(' ').Take(3));

static string CpuModel()
{
    try
    {
        var psi = new ProcessStartInfo("lscpu") { RedirectStandardOutput = true, UseShellExecute = false };
        using var p = Process.Start(psi)!;
        var line = p.StandardOutput.ReadToEnd().Split('\n').FirstOrDefault(l => l.StartsWith("Model name:", StringComparison.Ordinal));
        return line?.Split(':', 2)[1].Trim() ?? "unknown";
    }
    catch (System.ComponentModel.Win32Exception) { return "unknown"; }
}

static double MemoryGiB()
{
    var line = File.ReadLines("/proc/meminfo").First(l => l.StartsWith("MemTotal:", StringComparison.Ordinal));
    return long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1]) / 1024.0 / 1024.0;
}

static string NodeVersion()
{
    try
    {
        using var p = Process.Start(new ProcessStartInfo("node", ["--version"]) { RedirectStandardOutput = true, UseShellExecute = false })!;
        return p.StandardOutput.ReadToEnd().Trim();
    }
    catch (System.ComponentModel.Win32Exception) { return "absent"; }
}
