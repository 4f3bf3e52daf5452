using System.Diagnostics;
using System.Net.Http.Json;
using System.Text.Json;
using System.Text.RegularExpressions;
using Akka.Sync.Gateway.Tests.Support;
using Xunit;
using Xunit.Abstractions;

namespace Akka.Sync.Gateway.Tests;

/// <summary>
/// The server process killed with SIGKILL during a burst of ingests: after a restart on the same SQLite file every
/// acknowledged event is there at its acknowledged seq, no batch is half-visible, and seqs stay contiguous.
/// </summary>
[Trait("Category", "Stress")]
public sealed partial class CrashTests(ITestOutputHelper output)
{
    private sealed class ServerProcess : IAsyncDisposable
    {
        public required Process Process { get; init; }
        public required Uri BaseUri { get; init; }
        public HttpClient Http { get; } = new() { Timeout = TimeSpan.FromSeconds(30) };

        public void Kill()
        {
            if (!Process.HasExited) Process.Kill(entireProcessTree: true); // SIGKILL: no shutdown hooks run
            Process.WaitForExit();
        }

        public ValueTask DisposeAsync()
        {
            Kill();
            Http.Dispose();
            Process.Dispose();
            return ValueTask.CompletedTask;
        }
    }

    private static string GatewayDll()
    {
        var configuration = AppContext.BaseDirectory.Contains($"{Path.DirectorySeparatorChar}Release{Path.DirectorySeparatorChar}") ? "Release" : "Debug";
        var repo = Path.GetFullPath(Path.Combine(NodeSocketIoClient.CompatDirectory, "..", ".."));
        var dll = Path.Combine(repo, "src", "Gateway", "bin", configuration, "net10.0", "Akka.Sync.Gateway.dll");
        return File.Exists(dll) ? dll : throw new FileNotFoundException("build the solution first", dll);
    }

    private static async Task<ServerProcess> Start(string dataDirectory)
    {
        var psi = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in new[] { GatewayDll(), "--urls", "http://127.0.0.1:0", "--Persistence:DataDirectory", dataDirectory, "--Agent:Mode", "external" })
            psi.ArgumentList.Add(a);
        var process = Process.Start(psi)!;
        process.ErrorDataReceived += (_, _) => { };
        process.BeginErrorReadLine();
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        while (await process.StandardOutput.ReadLineAsync(cts.Token) is { } line)
        {
            if (ListeningOn().Match(line) is { Success: true } m)
            {
                var server = new ServerProcess { Process = process, BaseUri = new Uri(m.Groups[1].Value) };
                _ = Task.Run(async () => { while (await process.StandardOutput.ReadLineAsync() is not null) { } });
                server.Http.BaseAddress = server.BaseUri;
                while (!(await server.Http.GetAsync("/ready", cts.Token)).IsSuccessStatusCode) await Task.Delay(50, cts.Token);
                return server;
            }
        }
        throw new InvalidOperationException("the server did not start");
    }

    [GeneratedRegex(@"Now listening on: (http://127\.0\.0\.1:\d+)")]
    private static partial Regex ListeningOn();

    [Fact]
    public async Task A_kill_9_during_a_burst_loses_no_acknowledged_event_and_half_writes_no_batch()
    {
        var dir = SyncServer.NewDataDirectory();
        try
        {
            string id;
            var acknowledged = new System.Collections.Concurrent.ConcurrentDictionary<string, long>();
            var batches = new System.Collections.Concurrent.ConcurrentBag<string[]>();
            await using (var first = await Start(dir))
            {
                var created = await first.Http.PostAsJsonAsync("/api/conversations", new { });
                id = (await created.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("id").GetString()!;
                using var stop = new CancellationTokenSource();
                var enough = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
                var writers = Enumerable.Range(0, 4).Select(w => Task.Run(async () =>
                {
                    for (var b = 0; b < 500 && !stop.IsCancellationRequested; b++)
                    {
                        var ids = Enumerable.Range(0, 10).Select(_ => Guid.NewGuid().ToString("D")).ToArray();
                        batches.Add(ids);
                        try
                        {
                            var response = await first.Http.PostAsJsonAsync($"/api/conversations/{id}/agent/events",
                                ids.Select(i => new { kind = "MessageEvent", source = "agent", id = i }).ToArray());
                            if (!response.IsSuccessStatusCode) continue;
                            foreach (var item in (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("items").EnumerateArray())
                                acknowledged[item.GetProperty("id").GetString()!] = item.GetProperty("seq").GetInt64();
                            if (acknowledged.Count >= 400) enough.TrySetResult();
                        }
                        catch (Exception e) when (e is HttpRequestException or TaskCanceledException or IOException)
                        {
                            return; // the server died under us
                        }
                    }
                })).ToArray();
                await enough.Task.WaitAsync(TimeSpan.FromSeconds(30)); // mid-burst: the writers are still going
                first.Kill();
                await stop.CancelAsync();
                await Task.WhenAll(writers);
            }
            output.WriteLine($"{acknowledged.Count} events acknowledged before the kill");
            Assert.True(acknowledged.Count >= 400);

            await using var second = await Start(dir);
            var stored = new List<string>();
            string? page = null;
            do
            {
                var body = await second.Http.GetFromJsonAsync<JsonElement>($"/api/conversations/{id}/events/search?limit=100" + (page is null ? "" : $"&page_id={page}"));
                stored.AddRange(body.GetProperty("items").EnumerateArray().Select(e => e.GetProperty("id").GetString()!));
                page = body.GetProperty("next_page_id").ValueKind == JsonValueKind.Null ? null : body.GetProperty("next_page_id").GetString();
            } while (page is not null);
            output.WriteLine($"{stored.Count} events stored after the restart");

            // Every acknowledged event is there, at the seq it was acknowledged with (seq = position in the log).
            var position = stored.Select((e, i) => (e, i)).ToDictionary(x => x.e, x => x.i + 1L);
            foreach (var (eventId, seq) in acknowledged) Assert.Equal(seq, position[eventId]);
            // No batch is half-visible: all of its ids are stored, or none.
            foreach (var batch in batches)
            {
                var present = batch.Count(position.ContainsKey);
                Assert.True(present is 0 or 10, $"a batch is half-visible: {present}/10");
            }
            // The log goes on from where it is.
            var next = await second.Http.PostAsJsonAsync($"/api/conversations/{id}/agent/events", new[] { new { kind = "MessageEvent", source = "agent" } });
            var item0 = (await next.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("items")[0];
            Assert.Equal(stored.Count + 1, item0.GetProperty("seq").GetInt64());
        }
        finally
        {
            SyncServer.TryDelete(dir);
        }
    }
}
