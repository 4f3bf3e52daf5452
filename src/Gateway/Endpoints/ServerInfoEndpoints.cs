using System.Diagnostics;
using System.Reflection;
using System.Runtime.InteropServices;
using Akka.Sync.Gateway.Settings;

namespace Akka.Sync.Gateway.Endpoints;

/// <summary>
/// <c>GET /server_info</c>: agent-server's <c>ServerInfo</c> (unauthenticated there too). Clients gate on
/// <see cref="AgentServerApiVersion"/>, the agent-server API this server implements; the rest tells what this server is.
/// </summary>
public static class ServerInfoEndpoints
{
    /// <summary>
    /// The agent-server release whose routes and shapes this server follows (openhands-agent-server 1.43.1); Agent
    /// Canvas 1.20.0 requires at least 1.28.0.
    /// </summary>
    public const string AgentServerApiVersion = "1.43.1";

    private static readonly long StartedAt = Stopwatch.GetTimestamp();
    private static long _lastActivity = Stopwatch.GetTimestamp();

    /// <summary>Called for every request: <c>idle_time</c> is the time since the last one.</summary>
    public static void Touch() => Volatile.Write(ref _lastActivity, Stopwatch.GetTimestamp());

    public static IEndpointRouteBuilder MapServerInfo(this IEndpointRouteBuilder app)
    {
        var version = typeof(ServerInfoEndpoints).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion ?? "unknown";
        app.MapGet("/server_info", (GatewaySettings settings) => Results.Json(new Dictionary<string, object?>
        {
            ["uptime"] = Math.Floor(Stopwatch.GetElapsedTime(StartedAt).TotalSeconds),
            ["idle_time"] = Math.Floor(Stopwatch.GetElapsedTime(Volatile.Read(ref _lastActivity)).TotalSeconds),
            ["title"] = "Akka.Sync",
            ["version"] = AgentServerApiVersion,
            // This server runs none of the OpenHands Python packages.
            ["sdk_version"] = "unknown",
            ["tools_version"] = "unknown",
            ["workspace_version"] = "unknown",
            ["build_git_sha"] = Environment.GetEnvironmentVariable("AKKA_SYNC_BUILD_GIT_SHA") ?? "unknown",
            ["build_git_ref"] = Environment.GetEnvironmentVariable("AKKA_SYNC_BUILD_GIT_REF") ?? "unknown",
            // usable_tools is left out on purpose: null means "every tool" to the canvas; this server runs none itself.
            ["runtime_idle_timeout_seconds"] = null,
            ["capabilities"] = Array.Empty<string>(),
            ["max_foreground_terminal_timeout_seconds"] = null,
            ["docs"] = "/openapi/v1.json",
            ["redoc"] = null,
            // Ours: what is behind the agent-server API.
            ["server"] = "akka-sync",
            ["server_version"] = version,
            ["runtime"] = RuntimeInformation.FrameworkDescription,
            ["agent_mode"] = settings.Agent.Mode,
        }));
        return app;
    }
}
