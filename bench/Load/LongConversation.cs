using System.Data.Common;
using System.Diagnostics;
using System.Net.WebSockets;
using System.Text;
using System.Text.Json;
using Akka.Sync.Actors.Conversations;
using Microsoft.Data.Sqlite;
using Npgsql;

namespace Akka.Sync.Bench.Load;

/// <summary>
/// Workload 7, "long conversation" (issue 13): one conversation of N events (1,000,000 in the full run), on SQLite and
/// on PostgreSQL. Ingest rate over time, what the server wrote to the database against the events' bytes, the entity's
/// memory per event, cold resume after a restart, <c>resend_all</c> replay, and REST reads at the end. Runs only when
/// asked (<c>./bench/run --only long</c>); writes its own section of docs/benchmarks.md.
/// </summary>
public sealed class LongConversation(Paths paths, HttpClient http, int events, int snapshotEvery = 1000)
{
    private const int Batch = 1000;
    private const int Windows = 10;
    private static readonly string Pad = new('x', 96);

    private static void Log(string line) => Console.WriteLine($"  {DateTime.UtcNow:HH:mm:ss} {line}");

    /// <summary>One backend's figures, in the order they are printed.</summary>
    public sealed class Figures(string backend)
    {
        public string Backend { get; } = backend;
        public List<(string Name, string Unit, double Value)> Rows { get; } = [];
        public List<double> WindowRates { get; } = [];
        /// <summary>Server CPU per event in each tenth: less bent than the rate by whatever else the machine runs.</summary>
        public List<double> WindowCpu { get; } = [];
        public void Add(string name, string unit, double value) => Rows.Add((name, unit, value));
        public double? Get(string name) => Rows.FirstOrDefault(r => r.Name.StartsWith(name, StringComparison.Ordinal)) is { Name: not null } r ? r.Value : null;
    }

    public async Task<Figures> RunAsync(string backend, IDictionary<string, string>? env, string? pgConnection)
    {
        var f = new Figures(backend);
        Server? server = await StartAsync("long", env, null);
        server.KeepData = true;
        var dataDirectory = server.DataDirectory;
        try
        {
            var api = new Api(http, server.BaseUrl);
            var conversation = await api.CreateConversationAsync();
            var pid = "conversation-" + conversation;
            IDatabaseProbe probe = pgConnection is null
                ? new SqliteProbe(Path.Combine(dataDirectory, "akka-sync.db"))
                : new PostgresProbe(pgConnection);
            var before = await probe.ReadAsync(pid);
            var writes0 = server.DiskWriteBytes();

            // ---- ingest: one producer, batches of 1,000 back to back; the rate per tenth of the log ----
            var cpu0 = server.Cpu();
            var total = Stopwatch.StartNew();
            var window = Stopwatch.StartNew();
            var windowCpu = cpu0;
            string? lastId = null, backId = null, middleId = null;
            var windowSize = events / Windows;
            long peakRss = 0;
            for (var n = 0; n < events; n += Batch)
            {
                var ids = await IngestAsync(server.BaseUrl, conversation, n, Math.Min(Batch, events - n));
                lastId = ids[^1];
                if (n <= events / 2 && events / 2 < n + ids.Length) middleId = ids[events / 2 - n];
                if (n <= events - 1000 && events - 1000 < n + ids.Length) backId = ids[events - 1000 - n];
                if ((n + ids.Length) % windowSize == 0)
                {
                    f.WindowRates.Add(windowSize / window.Elapsed.TotalSeconds);
                    window.Restart();
                    var cpuNow = server.Cpu();
                    f.WindowCpu.Add((cpuNow - windowCpu).TotalMicroseconds / windowSize);
                    windowCpu = cpuNow;
                    peakRss = Math.Max(peakRss, server.Rss());
                    Log($"{backend}: {n + ids.Length:#,0} events, last {windowSize:#,0} at {f.WindowRates[^1]:#,0}/s, {f.WindowCpu[^1]:0.0} µs CPU each, RSS {server.Rss() / 1e6:0} MB");
                }
            }
            var ingestSeconds = total.Elapsed.TotalSeconds;
            var cpu = server.Cpu() - cpu0;
            f.Add("ingest: events/s, whole run", "events/s", events / ingestSeconds);
            f.Add("ingest: events/s, first tenth", "events/s", f.WindowRates[0]);
            f.Add("ingest: events/s, last tenth", "events/s", f.WindowRates[^1]);
            // Against the median tenth: the first tenth pays for JIT and warm-up, and any tenth can meet a burst of
            // whatever else runs on the machine; a log-length cost would show as the last tenths drifting from it.
            f.Add("ingest: last tenth ÷ median tenth", "×", f.WindowRates[^1] / Median(f.WindowRates));
            f.Add("ingest: server CPU per event", "µs", cpu.TotalMicroseconds / events);
            f.Add("ingest: server CPU per event, last tenth ÷ median tenth", "×", f.WindowCpu[^1] / Median(f.WindowCpu));
            f.Add("server peak RSS during ingest", "MB", peakRss / 1e6);

            // The last segment is saved shortly after the last write; wait for it (bounded) so the figures are whole.
            var after = await probe.ReadAsync(pid);
            for (var i = 0; i < 200 && after.SegmentsThrough < events - snapshotEvery; i++)
            {
                await Task.Delay(50);
                after = await probe.ReadAsync(pid);
            }
            var diskWrites = server.DiskWriteBytes() - writes0;

            // ---- reads at the end ----
            var q = $"{server.BaseUrl}/api/conversations/{conversation}/events";
            await Reads(f, q, middleId!, lastId!);

            // ---- resend_all: the whole log to one socket ----
            var replay = await ReplayAsync(new Uri($"{server.WsUrl}/sockets/events/{conversation}?resend_all=true"), events);
            f.Add("resend_all: events/s to the last frame", "events/s", events / replay.Seconds);
            f.Add("resend_all: time to the last frame", "s", replay.Seconds);
            var eventBytes = replay.EventBytes;

            // ---- bytes: what the server wrote to the database, against the events' own bytes ----
            var snapshotsTaken = after.JournalRows / snapshotEvery;
            var snapshotBytesWritten = after.SegmentBytes + snapshotsTaken * after.StateSnapshotBytes;
            f.Add("event bytes (JSON as stored and replayed)", "MB", eventBytes / 1e6);
            f.Add("journal payload bytes ÷ event bytes", "×", (after.JournalPayloadBytes - before.JournalPayloadBytes) / (double)eventBytes);
            f.Add("snapshot store bytes written per 1,000 events (state + index segments)", "KB", snapshotBytesWritten / (events / 1000.0) / 1e3);
            f.Add("state snapshot size (the newest)", "B", after.StateSnapshotBytes);
            f.Add("journal + snapshot bytes written ÷ event bytes", "×",
                (after.JournalPayloadBytes - before.JournalPayloadBytes + snapshotBytesWritten) / (double)eventBytes);
            f.Add("database growth ÷ event bytes (rows, indexes, free pages)", "×", (after.DatabaseBytes - before.DatabaseBytes) / (double)eventBytes);
            if (pgConnection is not null) f.Add("PostgreSQL WAL written ÷ event bytes", "×", (after.WalPosition - before.WalPosition) / (double)eventBytes);
            else if (diskWrites > 0) f.Add("server disk writes ÷ event bytes (SQLite WAL + checkpoints)", "×", diskWrites / (double)eventBytes);
            Log($"{backend}: events {eventBytes / 1e6:0.0} MB, journal payload {(after.JournalPayloadBytes - before.JournalPayloadBytes) / 1e6:0.0} MB, " +
                $"snapshots written {snapshotBytesWritten / 1e6:0.00} MB ({after.SegmentRows} segments, state {after.StateSnapshotBytes} B × {snapshotsTaken}), " +
                $"database +{(after.DatabaseBytes - before.DatabaseBytes) / 1e6:0.0} MB");
            await server.DisposeAsync();
            server = null;

            // ---- cold resume: restart on the same data, then after_event_id = the last event, three times ----
            var firstFrame = new List<double>();
            var firstEvent = new List<double>();
            var rssPerEvent = new List<double>();
            for (var run = 0; run < 3; run++)
            {
                server = await StartAsync("long-restart", env, dataDirectory);
                server.KeepData = true;
                var rss0 = await WarmUpAsync(server);
                var resume = await FirstFramesAsync(new Uri($"{server.WsUrl}/sockets/events/{conversation}?after_event_id={lastId}"), 0);
                firstFrame.Add(resume.FirstMs);
                var back = await FirstFramesAsync(new Uri($"{server.WsUrl}/sockets/events/{conversation}?after_event_id={backId}"), 999);
                firstEvent.Add(back.FirstEventMs);
                await Task.Delay(1000); // let the loading garbage be collected before RSS is read
                rssPerEvent.Add((server.Rss() - rss0) / (double)events);
                Log($"{backend}: restart {run + 1}: first frame {firstFrame[^1]:0} ms, then from event {events - 999:#,0}: first event {back.FirstEventMs:0} ms, " +
                    $"999 events {back.LastEventMs:0} ms; RSS +{(server.Rss() - rss0) / 1e6:0} MB");
                await server.DisposeAsync();
                server = null;
            }
            // The same resume once more without the index segments: the index rebuilt from the journal, the design
            // this one was weighed against (architecture.md, "Long conversations").
            await probe.DeleteSegmentsAsync(pid);
            server = await StartAsync("long-rebuild", env, dataDirectory);
            server.KeepData = true;
            await WarmUpAsync(server);
            var rebuilt = await FirstFramesAsync(new Uri($"{server.WsUrl}/sockets/events/{conversation}?after_event_id={lastId}"), 0);
            Log($"{backend}: restart without segments: first frame {rebuilt.FirstMs:0} ms");
            await server.DisposeAsync();
            server = null;
            firstFrame.Sort(); firstEvent.Sort(); rssPerEvent.Sort();
            f.Add("cold resume: after_event_id = last event, restart → first frame (median of 3)", "ms", firstFrame[1]);
            f.Add("then after_event_id 1,000 back → first event frame (same process)", "ms", firstEvent[1]);
            f.Add("cold resume with the index segments deleted (index read from the journal)", "ms", rebuilt.FirstMs);
            f.Add("entity memory per event: server ΔRSS after cold resume ÷ events", "B", rssPerEvent[1]);
            f.Add("entity memory per event: the index alone, in-process after a full GC", "B", IndexBytesPerEvent(events));
            return f;
        }
        finally
        {
            if (server is not null) await server.DisposeAsync();
            try { Directory.Delete(dataDirectory, recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
        }
    }

    private static double Median(IEnumerable<double> values)
    {
        var sorted = values.Order().ToArray();
        return sorted.Length % 2 == 1 ? sorted[sorted.Length / 2] : (sorted[sorted.Length / 2 - 1] + sorted[sorted.Length / 2]) / 2;
    }

    private async Task<Server> StartAsync(string label, IDictionary<string, string>? env, string? dataDirectory)
    {
        var server = Server.Start(paths, ServerKind.AkkaSync, label, env, dataDirectory);
        try { await server.WaitReadyAsync(http, TimeSpan.FromSeconds(60)); }
        catch { await server.DisposeAsync(); throw; }
        return server;
    }

    /// <summary>Posts events n = first … first+count-1 (every 1,000th a user MessageEvent, the rest agent BenchEvents); returns their ids.</summary>
    private async Task<string[]> IngestAsync(string baseUrl, string conversation, long first, int count)
    {
        var sb = new StringBuilder(count * 170);
        var now = Clock.NowUs();
        sb.Append('[');
        for (var i = 0; i < count; i++)
        {
            var n = first + i;
            if (i > 0) sb.Append(',');
            sb.Append(n % 1000 == 999 ? "{\"kind\":\"MessageEvent\",\"source\":\"user\"" : "{\"kind\":\"BenchEvent\",\"source\":\"agent\"")
              .Append(",\"t\":").Append(now).Append(",\"n\":").Append(n).Append(",\"pad\":\"").Append(Pad).Append("\"}");
        }
        sb.Append(']');
        using var content = new StringContent(sb.ToString(), Encoding.UTF8, "application/json");
        using var r = await http.PostAsync($"{baseUrl}/api/conversations/{conversation}/agent/events", content);
        if (!r.IsSuccessStatusCode) throw new InvalidOperationException($"ingest answered {(int)r.StatusCode}: {await r.Content.ReadAsStringAsync()}");
        using var doc = JsonDocument.Parse(await r.Content.ReadAsByteArrayAsync());
        return doc.RootElement.GetProperty("items").EnumerateArray().Select(e => e.GetProperty("id").GetString()!).ToArray();
    }

    /// <summary>REST reads over the whole log, each the median of 21 calls after one warm-up.</summary>
    private async Task Reads(Figures f, string events, string middleId, string lastId)
    {
        async Task<double> Median(string url)
        {
            var times = new List<double>();
            for (var i = 0; i < 22; i++)
            {
                var t0 = Stopwatch.GetTimestamp();
                using var r = await http.GetAsync(url);
                await r.Content.ReadAsByteArrayAsync();
                if (!r.IsSuccessStatusCode) throw new InvalidOperationException($"{url} answered {(int)r.StatusCode}");
                if (i > 0) times.Add(Stopwatch.GetElapsedTime(t0).TotalMilliseconds);
            }
            times.Sort();
            return times[times.Count / 2];
        }
        f.Add("events/count (no filter)", "ms", await Median($"{events}/count"));
        f.Add("events/count?kind=MessageEvent (scans the whole index)", "ms", await Median($"{events}/count?kind=MessageEvent"));
        f.Add("events/search, first page of 100", "ms", await Median($"{events}/search?limit=100"));
        f.Add("events/search, newest page of 100 (TIMESTAMP_DESC)", "ms", await Median($"{events}/search?limit=100&sort_order=TIMESTAMP_DESC"));
        f.Add("events/search?page_id=<middle event>, 100", "ms", await Median($"{events}/search?limit=100&page_id={middleId}"));
        f.Add("events/search?kind=MessageEvent, 100 (1 event in 1,000)", "ms", await Median($"{events}/search?limit=100&kind=MessageEvent"));
        f.Add("events/{id} of the middle event", "ms", await Median($"{events}/{middleId}"));
        f.Add("events/{id} of the last event", "ms", await Median($"{events}/{lastId}"));
    }

    private sealed record Replay(double Seconds, long EventBytes);

    /// <summary>One socket that reads until <paramref name="expected"/> event frames came; the bytes of those frames.</summary>
    private static async Task<Replay> ReplayAsync(Uri uri, long expected)
    {
        using var ws = new ClientWebSocket();
        ws.Options.KeepAliveInterval = TimeSpan.Zero;
        using var cts = new CancellationTokenSource(TimeSpan.FromMinutes(5));
        var t0 = Stopwatch.GetTimestamp();
        await ws.ConnectAsync(uri, cts.Token);
        var buffer = new byte[1 << 16];
        long frames = 0, bytes = 0, length = 0;
        var first = true;
        while (frames < expected)
        {
            var r = await ws.ReceiveAsync(buffer, cts.Token);
            if (r.MessageType == WebSocketMessageType.Close) throw new InvalidOperationException($"replay closed {ws.CloseStatus} {ws.CloseStatusDescription} after {frames}");
            length += r.Count;
            if (!r.EndOfMessage) continue;
            if (first) first = false; // the full_state frame: not an event
            else { frames++; bytes += length; }
            length = 0;
        }
        var seconds = Stopwatch.GetElapsedTime(t0).TotalSeconds;
        ws.Abort();
        return new Replay(seconds, bytes);
    }

    private sealed record Frames(double FirstMs, double FirstEventMs, double LastEventMs);

    /// <summary>Connects and reads the full_state frame, then <paramref name="events"/> event frames; times from the start of the connect.</summary>
    private static async Task<Frames> FirstFramesAsync(Uri uri, int events)
    {
        using var ws = new ClientWebSocket();
        ws.Options.KeepAliveInterval = TimeSpan.Zero;
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        var t0 = Stopwatch.GetTimestamp();
        await ws.ConnectAsync(uri, cts.Token);
        var buffer = new byte[1 << 16];
        double first = 0, firstEvent = 0, lastEvent = 0;
        for (var frame = 0; frame <= events;)
        {
            var r = await ws.ReceiveAsync(buffer, cts.Token);
            if (r.MessageType == WebSocketMessageType.Close) throw new InvalidOperationException($"resume closed {ws.CloseStatus} {ws.CloseStatusDescription}");
            if (!r.EndOfMessage) continue;
            var ms = Stopwatch.GetElapsedTime(t0).TotalMilliseconds;
            if (frame == 0) first = ms;
            if (frame == 1) firstEvent = ms;
            lastEvent = ms;
            frame++;
        }
        ws.Abort();
        return new Frames(first, firstEvent, lastEvent);
    }

    /// <summary>A restarted server's first requests (JIT, pools, sharding) on another conversation; then its RSS.</summary>
    private async Task<long> WarmUpAsync(Server server)
    {
        var api = new Api(http, server.BaseUrl);
        var other = await api.CreateConversationAsync();
        var ids = await api.IngestAsync(other, 1, 10);
        await FirstFramesAsync(new Uri($"{server.WsUrl}/sockets/events/{other}?after_event_id={ids[4]}"), 5);
        using (var r = await http.GetAsync($"{server.BaseUrl}/api/conversations/{other}/events/search?limit=5")) await r.Content.ReadAsByteArrayAsync();
        await Task.Delay(500);
        return server.Rss();
    }

    /// <summary>The conversation index's managed bytes per event: built here with <paramref name="n"/> UUID ids, measured with full GCs.</summary>
    private static double IndexBytesPerEvent(int n)
    {
        var before = GC.GetTotalMemory(forceFullCollection: true);
        var index = new EventIndex();
        var ticks = DateTime.UtcNow.Ticks;
        for (var seq = 1; seq <= n; seq++)
            index.Add(seq, seq + 1, Guid.NewGuid().ToString("D"), seq % 1000 == 0 ? "MessageEvent" : "BenchEvent", seq % 1000 == 0 ? "user" : "agent", ticks + seq * 10);
        var after = GC.GetTotalMemory(forceFullCollection: true);
        GC.KeepAlive(index);
        return (after - before) / (double)n;
    }

    // ---- the database, read beside the server ----

    private sealed record DbStats(long DatabaseBytes, long JournalRows, long JournalPayloadBytes, long SegmentRows, long SegmentBytes,
        long SegmentsThrough, long StateSnapshotBytes, long WalPosition);

    private interface IDatabaseProbe
    {
        Task<DbStats> ReadAsync(string persistenceId);
        Task DeleteSegmentsAsync(string persistenceId);
    }

    private static async Task DeleteSegments(DbConnection c, string persistenceId)
    {
        await using var command = c.CreateCommand();
        command.CommandText = "DELETE FROM snapshot WHERE persistence_id = @p";
        var p = command.CreateParameter();
        p.ParameterName = "@p";
        p.Value = IndexSegments.PersistenceIdOf(persistenceId);
        command.Parameters.Add(p);
        await command.ExecuteNonQueryAsync();
    }

    private static async Task<DbStats> Query(DbConnection c, string persistenceId, long databaseBytes, long wal)
    {
        async Task<(long, long, long)> Row(string sql, string pid)
        {
            await using var command = c.CreateCommand();
            command.CommandText = sql;
            var p = command.CreateParameter();
            p.ParameterName = "@p";
            p.Value = pid;
            command.Parameters.Add(p);
            await using var reader = await command.ExecuteReaderAsync();
            await reader.ReadAsync();
            return (reader.IsDBNull(0) ? 0 : Convert.ToInt64(reader.GetValue(0)), reader.IsDBNull(1) ? 0 : Convert.ToInt64(reader.GetValue(1)),
                reader.IsDBNull(2) ? 0 : Convert.ToInt64(reader.GetValue(2)));
        }
        var journal = await Row("SELECT COUNT(*), SUM(LENGTH(message)), 0 FROM journal WHERE persistence_id = @p", persistenceId);
        var segments = await Row("SELECT COUNT(*), SUM(LENGTH(snapshot)), MAX(sequence_number) FROM snapshot WHERE persistence_id = @p", IndexSegments.PersistenceIdOf(persistenceId));
        var state = await Row("SELECT COUNT(*), MAX(LENGTH(snapshot)), 0 FROM snapshot WHERE persistence_id = @p", persistenceId);
        return new DbStats(databaseBytes, journal.Item1, journal.Item2, segments.Item1, segments.Item2, segments.Item3, state.Item2, wal);
    }

    private sealed class SqliteProbe(string file) : IDatabaseProbe
    {
        public async Task<DbStats> ReadAsync(string persistenceId)
        {
            await using var c = new SqliteConnection($"Data Source={file};Pooling=False");
            await c.OpenAsync();
            long Size(string f) => File.Exists(f) ? new FileInfo(f).Length : 0;
            return await Query(c, persistenceId, Size(file) + Size(file + "-wal"), 0);
        }

        public async Task DeleteSegmentsAsync(string persistenceId)
        {
            await using var c = new SqliteConnection($"Data Source={file};Pooling=False");
            await c.OpenAsync();
            await DeleteSegments(c, persistenceId);
        }
    }

    private sealed class PostgresProbe(string connectionString) : IDatabaseProbe
    {
        public async Task<DbStats> ReadAsync(string persistenceId)
        {
            await using var c = new NpgsqlConnection(connectionString);
            await c.OpenAsync();
            await using var command = c.CreateCommand();
            command.CommandText = "SELECT pg_database_size(current_database()), pg_wal_lsn_diff(pg_current_wal_lsn(), '0/0')::bigint";
            await using var reader = await command.ExecuteReaderAsync();
            await reader.ReadAsync();
            var (size, wal) = (reader.GetInt64(0), reader.GetInt64(1));
            await reader.DisposeAsync();
            return await Query(c, persistenceId, size, wal);
        }

        public async Task DeleteSegmentsAsync(string persistenceId)
        {
            await using var c = new NpgsqlConnection(connectionString);
            await c.OpenAsync();
            await DeleteSegments(c, persistenceId);
        }
    }
}

/// <summary>The long-conversation figures: a console table and their own section of docs/benchmarks.md.</summary>
public static class LongReport
{
    public const string Begin = "<!-- long-conversation:begin (written by ./bench/run --only long) -->";
    public const string End = "<!-- long-conversation:end -->";

    private static string Format(double v, string unit) => unit switch
    {
        "×" => v.ToString("0.00") + "×",
        "B" or "KB" when v < 100 => v.ToString("0.0"),
        "ms" or "s" when v < 10 => v.ToString("0.00"),
        "µs" => v.ToString("0.0"),
        _ when v >= 100 => v.ToString("#,0"),
        _ => v.ToString("0.0"),
    };

    /// <summary>The issue's targets, judged on each backend's figures.</summary>
    public static IEnumerable<(string Target, string Backend, string Measured, bool Met)> Targets(IReadOnlyList<LongConversation.Figures> runs)
    {
        foreach (var f in runs)
        {
            if (f.Get("ingest: last tenth ÷ median tenth") is { } flat)
                yield return ("ingest rate flat over the log: last tenth ≥ 0.8× the median tenth", f.Backend, Format(flat, "×"), flat >= 0.8);
            if (f.Get("ingest: server CPU per event, last tenth ÷ median tenth") is { } cpu)
                yield return ("server CPU per ingested event flat: last tenth ≤ 1.25× the median tenth", f.Backend, Format(cpu, "×"), cpu <= 1.25);
            if (f.Get("journal + snapshot bytes written ÷ event bytes") is { } amp)
                yield return ("bytes written to the database (journal + snapshots) ≤ 2× the events' bytes", f.Backend, Format(amp, "×"), amp <= 2);
            if (f.Get("cold resume") is { } resume)
                yield return ("cold resume after a restart ≤ 1 s to the first frame", f.Backend, $"{resume:0} ms", resume <= 1000);
        }
    }

    public static string Table(IReadOnlyList<LongConversation.Figures> runs)
    {
        var names = runs.SelectMany(r => r.Rows.Select(x => (x.Name, x.Unit))).Distinct().ToList();
        var rows = new List<string[]> { new[] { "figure", "unit" }.Concat(runs.Select(r => r.Backend)).ToArray() };
        foreach (var (name, unit) in names)
            rows.Add(new[] { name, unit }.Concat(runs.Select(r => r.Rows.FirstOrDefault(x => x.Name == name) is { Name: not null } v ? Format(v.Value, unit) : "–")).ToArray());
        rows.Add(new[] { "ingest events/s per tenth of the log", "events/s" }.Concat(runs.Select(r => string.Join(" ", r.WindowRates.Select(w => (w / 1000).ToString("0.0") + "k")))).ToArray());
        rows.Add(new[] { "ingest server CPU per event, per tenth", "µs" }.Concat(runs.Select(r => string.Join(" ", r.WindowCpu.Select(w => w.ToString("0.0"))))).ToArray());
        var widths = Enumerable.Range(0, rows[0].Length).Select(i => rows.Max(r => r[i].Length)).ToArray();
        var sb = new StringBuilder();
        foreach (var r in rows) sb.AppendLine(string.Join("  ", r.Select((c, i) => i >= 2 ? c.PadLeft(widths[i]) : c.PadRight(widths[i]))));
        foreach (var t in Targets(runs)) sb.AppendLine($"{(t.Met ? "MET " : "MISS")}  {t.Target} ({t.Backend}): {t.Measured}");
        return sb.ToString();
    }

    public static string Markdown(IReadOnlyList<LongConversation.Figures> runs, int events, Machine machine, string command, IEnumerable<string> notes, string handNotes)
    {
        var sb = new StringBuilder();
        sb.AppendLine(Begin);
        sb.AppendLine("## Long conversation");
        sb.AppendLine();
        sb.AppendLine($"Generated by `{command}` on {machine.Date:yyyy-MM-dd HH:mm} UTC: **one conversation of {events:#,0} events** (~250 bytes each, " +
                      "ingested by one producer in batches of 1,000, every 1,000th a user `MessageEvent`), on " +
                      string.Join(" and ", runs.Select(r => r.Backend)) + $". Machine: {machine.Cores} cores, `{machine.CpuModel}`, " +
                      $"{machine.MemoryGiB:0.0} GiB RAM, {machine.Dotnet}; load average before / after {machine.LoadBefore} / {machine.LoadAfter}. " +
                      "Snapshots every 1,000 journal entries (the default). Why the figures look like this: " +
                      "[architecture.md, \"Long conversations\"](architecture.md#long-conversations).");
        sb.AppendLine();
        sb.AppendLine("| target | " + string.Join(" | ", runs.Select(r => r.Backend)) + " |");
        sb.AppendLine("|---|" + string.Concat(runs.Select(_ => "---|")));
        foreach (var group in Targets(runs).GroupBy(t => t.Target))
            sb.AppendLine($"| {group.Key} | " + string.Join(" | ", runs.Select(r => group.FirstOrDefault(t => t.Backend == r.Backend) is { Target: not null } t
                ? $"{t.Measured} {(t.Met ? "(met)" : "(**missed**)")}" : "–")) + " |");
        sb.AppendLine();
        sb.AppendLine("| figure | " + string.Join(" | ", runs.Select(r => r.Backend)) + " |");
        sb.AppendLine("|---|" + string.Concat(runs.Select(_ => "---:|")));
        foreach (var (name, unit) in runs.SelectMany(r => r.Rows.Select(x => (x.Name, x.Unit))).Distinct())
            sb.AppendLine($"| {name} ({unit}) | " + string.Join(" | ", runs.Select(r => r.Rows.FirstOrDefault(x => x.Name == name) is { Name: not null } v ? Format(v.Value, unit) : "–")) + " |");
        sb.AppendLine("| ingest events/s per tenth of the log | " + string.Join(" | ", runs.Select(r => string.Join(" ", r.WindowRates.Select(w => (w / 1000).ToString("0.0") + "k")))) + " |");
        sb.AppendLine("| ingest server CPU per event, per tenth (µs) | " + string.Join(" | ", runs.Select(r => string.Join(" ", r.WindowCpu.Select(w => w.ToString("0.0"))))) + " |");
        foreach (var n in notes)
        {
            sb.AppendLine();
            sb.AppendLine($"- {n}");
        }
        sb.AppendLine();
        sb.AppendLine("Printed by the harness:");
        sb.AppendLine();
        sb.AppendLine("```");
        sb.Append(Table(runs));
        sb.AppendLine("```");
        if (handNotes.Trim().Length > 0)
        {
            sb.AppendLine();
            sb.AppendLine(handNotes.Trim());
        }
        sb.AppendLine(End);
        return sb.ToString();
    }

    /// <summary>The section of an existing docs/benchmarks.md, or null.</summary>
    public static string? Existing(string markdown)
    {
        var b = markdown.IndexOf(Begin, StringComparison.Ordinal);
        var e = markdown.IndexOf(End, StringComparison.Ordinal);
        return b >= 0 && e > b ? markdown[b..(e + End.Length)] + "\n" : null;
    }

    /// <summary><paramref name="markdown"/> with its section replaced by <paramref name="section"/> (appended when it had none).</summary>
    public static string Replace(string markdown, string section)
    {
        var b = markdown.IndexOf(Begin, StringComparison.Ordinal);
        var e = markdown.IndexOf(End, StringComparison.Ordinal);
        if (b >= 0 && e > b) return markdown[..b] + section.TrimEnd('\n') + markdown[(e + End.Length)..];
        return markdown.TrimEnd('\n') + "\n\n" + section;
    }
}
