using System.Diagnostics;
using System.Text.Json;
using Akka.Sync.Gateway.Tests.Support;
using Xunit;
using Xunit.Abstractions;

namespace Akka.Sync.Gateway.Tests.AgentServer;

/// <summary>
/// The real OpenHands web client, Agent Canvas 1.20.0 from npm, unmodified, in Debian chromium against Akka.Sync servers
/// (tests/compat/canvas.e2e.js, which starts the Gateway itself so it can restart it under the open page). It walks a
/// new user's path — first run, a new chat answered live, Stop and resume, reload, a server restart, paging back through
/// a 2,000-event conversation, the confirmation buttons, server keys handed out or typed in, the canvas on another
/// origin added through its Manage backends screen, and the canvas on an Akka.Sync that follows an upstream Akka.Sync
/// in demo mode (the answer flows upstream → follower → canvas; Stop and resume are forwarded upstream) — and fails on any request the page needed that failed, any page
/// error, any error toast, and any event a socket got twice. Screenshots land in artifacts/test-results.
/// </summary>
public sealed class AgentCanvasBrowserTests(ITestOutputHelper output)
{
    [Fact]
    public async Task Agent_Canvas_runs_unmodified_on_Akka_Sync_from_first_run_to_restart_with_every_event_once()
    {
        var compat = NodeSocketIoClient.CompatDirectory;
        var root = Path.GetFullPath(Path.Combine(compat, "..", ".."));
        var canvas = Path.Combine(compat, "agent-canvas");
        await Run("bash", root, TimeSpan.FromMinutes(3), Path.Combine(root, "scripts", "fetch-canvas"), canvas);
        var configuration = AppContext.BaseDirectory.Contains($"{Path.DirectorySeparatorChar}Debug{Path.DirectorySeparatorChar}") ? "Debug" : "Release";
        var gateway = Path.Combine(root, "src", "Gateway", "bin", configuration, "net10.0", "Akka.Sync.Gateway.dll");
        Assert.True(File.Exists(gateway), $"build the solution first: {gateway} is missing");
        var artifacts = Path.Combine(root, "artifacts", "test-results");

        var stdout = await Run("node", compat, TimeSpan.FromMinutes(12), "canvas.e2e.js", gateway, canvas, artifacts);

        var summary = JsonDocument.Parse(stdout.Trim().Split('\n')[^1]).RootElement;
        foreach (var step in summary.GetProperty("steps").EnumerateArray()) output.WriteLine(step.GetString());
        output.WriteLine("routes the canvas called that need a sandbox or the automation service: " + summary.GetProperty("outOfScope"));
        Assert.True(summary.GetProperty("ok").GetBoolean(), stdout);
        Assert.Equal(11, summary.GetProperty("steps").GetArrayLength());
        foreach (var shot in new[] { "first-run", "live-answer", "stopped", "behind-akka-sync" })
            Assert.True(new FileInfo(Path.Combine(artifacts, $"canvas-{shot}.png")).Length > 10_000, shot);
    }

    private async Task<string> Run(string file, string directory, TimeSpan timeout, params string[] args)
    {
        var psi = new ProcessStartInfo(file)
        {
            WorkingDirectory = directory, RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false,
        };
        foreach (var a in args) psi.ArgumentList.Add(a);
        using var process = Process.Start(psi)!;
        var stderr = process.StandardError.ReadToEndAsync();
        var stdout = process.StandardOutput.ReadToEndAsync();
        try
        {
            await process.WaitForExitAsync().WaitAsync(timeout);
        }
        catch (TimeoutException)
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"{file} {string.Join(' ', args)} did not end in {timeout}: {await stderr}");
        }
        var err = await stderr;
        if (err.Length > 0) output.WriteLine(err.Length > 4000 ? err[^4000..] : err);
        var text = await stdout;
        if (file == "bash") Assert.True(process.ExitCode == 0, $"{string.Join(' ', args)}: {text}{err}");
        return text;
    }
}
