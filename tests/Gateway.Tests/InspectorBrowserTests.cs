using System.Diagnostics;
using System.Text.Json;
using Akka.Sync.Gateway.Tests.Support;
using Xunit;

namespace Akka.Sync.Gateway.Tests;

/// <summary>
/// The inspector page at <c>/</c> in a real browser (Debian chromium via playwright-core, tests/compat/inspector.e2e.js):
/// create a conversation, send a message, see the demo agent answer and the status change, survive a dropped socket,
/// reload and see the same history exactly once. The screenshot lands in artifacts/test-results/inspector.png.
/// </summary>
public sealed class InspectorBrowserTests
{
    [Fact]
    public async Task A_newcomer_creates_a_conversation_talks_to_the_demo_agent_and_reloads_without_duplicates()
    {
        await using var server = await SyncServer.StartAsync(new Dictionary<string, string?> { ["Agent:Mode"] = "demo" });
        var artifacts = Path.Combine(NodeSocketIoClient.CompatDirectory, "..", "..", "artifacts", "test-results");
        Directory.CreateDirectory(artifacts);
        var screenshot = Path.GetFullPath(Path.Combine(artifacts, "inspector.png"));
        var psi = new ProcessStartInfo("node") { WorkingDirectory = NodeSocketIoClient.CompatDirectory, RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in new[] { "inspector.e2e.js", server.BaseUri.ToString(), screenshot }) psi.ArgumentList.Add(a);

        using var browser = Process.Start(psi)!;
        var stderr = browser.StandardError.ReadToEndAsync();
        var output = await browser.StandardOutput.ReadToEndAsync().WaitAsync(TimeSpan.FromSeconds(120));
        await browser.WaitForExitAsync();

        var summary = JsonDocument.Parse(output.Trim().Split('\n')[^1]).RootElement;
        Assert.True(summary.GetProperty("ok").GetBoolean(), output + await stderr);
        Assert.Equal("idle", summary.GetProperty("statusBefore").GetString());
        Assert.Equal("finished", summary.GetProperty("statusAfter").GetString());
        Assert.Equal(["MessageEvent", "ConversationStateUpdateEvent", "ActionEvent", "ObservationEvent", "MessageEvent", "ConversationStateUpdateEvent"],
            summary.GetProperty("kinds").EnumerateArray().Select(k => k.GetString()));
        Assert.Equal("after_event_id", summary.GetProperty("resumedWith").GetString());
        Assert.True(summary.GetProperty("uniqueBeforeReload").GetBoolean());
        Assert.True(summary.GetProperty("sameHistoryAfterReload").GetBoolean());
        Assert.True(summary.GetProperty("uniqueIds").GetBoolean());
        // 6 for the first run; the second message on a finished conversation adds idle too: 7 more.
        Assert.Equal(13, summary.GetProperty("events").GetInt32());
        Assert.True(new FileInfo(screenshot).Length > 10_000);
    }
}
