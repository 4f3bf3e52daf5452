using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Akka.Actor;
using Akka.Hosting;
using Akka.Sync.Actors.Preferences;
using Akka.Sync.Protocol;
using static Akka.Sync.Gateway.Endpoints.Http;

namespace Akka.Sync.Gateway.Endpoints;

/// <summary>
/// The agent-server routes a web client (Agent Canvas) calls to set itself up: settings, LLM and agent profiles,
/// models, workspaces, skills, hooks, plugins, extensions (CONTRACT §10). Each answers agent-server's shape with the
/// truth about this server: the agent is attached on the server side (the demo agent, or an external runtime that
/// ingests), so there is one fixed "LLM profile" that needs no key from the browser, nothing to configure, and no
/// sandbox (no files, terminal, git, skills or plugins). Only the clients' own preferences (<c>misc_settings</c>) are
/// kept, cluster-wide, by <see cref="PreferencesActor"/>.
/// </summary>
public static class ClientSetupEndpoints
{
    /// <summary>The one LLM profile: the agent attached to this server.</summary>
    public const string ProfileName = "akka-sync";

    private const string NoSandbox = "Akka.Sync has no sandbox: commands, files and git do not run on this server";

    public static IEndpointRouteBuilder MapClientSetup(this IEndpointRouteBuilder app)
    {
        var api = app.MapGroup("/api").AddEndpointFilter(async (ctx, next) =>
            ctx.HttpContext.RequestServices.GetRequiredService<RequestContext>().AuthorizeServer() ?? await next(ctx));

        api.MapGet("/settings", GetSettings);
        api.MapPatch("/settings", PatchSettings);
        api.MapGet("/settings/agent-schema", () => Results.Json(new { model_name = "AgentSettings", sections = Array.Empty<object>() }));
        api.MapGet("/settings/conversation-schema", () => Results.Json(new { model_name = "ConversationSettings", sections = Array.Empty<object>() }));
        api.MapGet("/settings/secrets", () => Results.Json(new { secrets = Array.Empty<object>() }));

        api.MapGet("/profiles", (RequestContext c) => Results.Json(new
        {
            profiles = new[] { Profile(c) },
            active_profile = ProfileName,
        }));
        api.MapGet("/profiles/{name}", (string name, RequestContext c) => name == ProfileName
            ? Results.Json(new { name, config = Llm(c), api_key_set = true })
            : Error(404, $"Profile '{name}' not found"));
        api.MapPost("/profiles/{name}/activate", (string name) => name == ProfileName
            ? Results.Json(new { name, message = $"Profile '{name}' activated and applied to current settings", llm_applied = true })
            : Error(404, $"Profile '{name}' not found"));
        api.MapGet("/agent-profiles", () => Results.Json(new { profiles = Array.Empty<object>(), active_agent_profile_id = (string?)null }));

        api.MapGet("/llm/models/verified", (RequestContext c) =>
            Results.Json(new { models = new Dictionary<string, string[]> { [ProfileName] = [ModelName(c)] } }));
        api.MapGet("/llm/models", (RequestContext c) => Results.Json(new { models = new[] { ModelName(c) } }));
        api.MapGet("/llm/providers", () => Results.Json(new { providers = new[] { ProfileName } }));
        api.MapGet("/llm/provider-connections", () => Results.Json(Array.Empty<object>()));

        // No sandbox: no workspace folders, no files, no skills, hooks, plugins or canvas extensions.
        api.MapGet("/workspaces", () => Results.Json(new { workspaces = Array.Empty<object>(), workspaceParents = Array.Empty<object>() }));
        api.MapGet("/file/home", () => Results.Json(new { home = "/workspace", favorites = Array.Empty<object>(), locations = Array.Empty<object>() }));
        api.MapPost("/skills", () => Results.Json(new { skills = Array.Empty<object>(), sources = new Dictionary<string, int>() }));
        api.MapPost("/hooks", () => Results.Json(new { hook_config = (object?)null }));
        api.MapGet("/plugins/installed", () => Results.Json(new { plugins = Array.Empty<object>() }));
        api.MapPost("/bash/execute_bash_command", () => Results.Json(new
        {
            command_id = (string?)null, exit_code = 127, stdout = "", stderr = NoSandbox, kind = "BashOutput",
        }));
        // The automation service is a separate OpenHands service, not part of agent-server, and not part of this
        // server: it reports itself unavailable, and the list of automations it would hold is empty.
        api.MapGet("/automation/health", () => Results.Json(new { status = "unavailable", detail = "Akka.Sync has no automation service" }, statusCode: 503));
        api.MapGet("/automation/v1", () => Results.Json(new { automations = Array.Empty<object>(), total = 0 }));
        api.MapGet("/canvas-extensions/installed", () => Results.Json(new { canvas_extensions = Array.Empty<object>() }));
        // agent-server sets a cookie here for its workspace file routes; this server has none, so there is nothing to
        // open: 204 with no body (a JSON content type on an empty body breaks the client's parser).
        api.MapPost("/auth/workspace-session", () => Results.NoContent());
        api.MapDelete("/auth/workspace-session", () => Results.NoContent());
        return app;
    }

    private static string ModelName(RequestContext c) =>
        c.Settings.Agent.Mode == "demo" ? "akka-sync/demo-agent" : "akka-sync/external-agent";

    private static object Llm(RequestContext c) => new { model = ModelName(c), api_key = (string?)null, base_url = (string?)null };

    /// <summary>
    /// <c>api_key_set</c> is true because the agent needs no key from the browser: it is attached on the server. A
    /// profile without it makes the canvas disable its composer ("Your LLM isn't set up yet").
    /// </summary>
    private static object Profile(RequestContext c) => new
    {
        name = ProfileName,
        model = ModelName(c),
        base_url = (string?)null,
        provider_connection_id = (string?)null,
        provider_connection_broken = false,
        api_key_set = true,
    };

    // ---- settings ----

    private static async Task<IResult> GetSettings(RequestContext c, IRequiredActor<PreferencesKey> preferences)
    {
        var (doc, error) = await Ask<ClientPreferences.Document>(preferences.ActorRef, ClientPreferences.Get.Instance, c.Limits);
        return error ?? Settings(c, doc!.Json);
    }

    /// <summary>
    /// agent-server's <c>SettingsUpdateRequest</c>. The agent and conversation settings are fixed by this server (a
    /// diff of them is refused with the reason); the clients' own <c>misc_settings</c> are merged (RFC 7386) and kept.
    /// </summary>
    private static async Task<IResult> PatchSettings(RequestContext c, IRequiredActor<PreferencesKey> preferences)
    {
        var (body, error) = await ReadJsonObject(c.Http.Request, c.Limits, required: true);
        if (error is not null) return error;
        using (body)
        {
            var root = body!.RootElement;
            string[] fields = ["agent_settings_diff", "conversation_settings_diff", "misc_settings_diff", "active_profile", "active_agent_profile_id"];
            if (!fields.Any(f => root.TryGetProperty(f, out _)))
                return Error(400, "At least one of agent_settings_diff, conversation_settings_diff, misc_settings_diff, active_profile, or active_agent_profile_id must be provided");
            foreach (var fixedPart in new[] { "agent_settings_diff", "conversation_settings_diff" })
                if (root.TryGetProperty(fixedPart, out var diff) && diff.ValueKind != JsonValueKind.Null
                    && !(diff.ValueKind == JsonValueKind.Object && !diff.EnumerateObject().Any()))
                    return Error(400, $"{fixedPart}: this server's agent is attached on the server (Agent:Mode={c.Settings.Agent.Mode}); its settings cannot be changed from a client");
            if (root.TryGetProperty("active_profile", out var profile) && profile.ValueKind != JsonValueKind.Null
                && !(profile.ValueKind == JsonValueKind.String && profile.GetString() == ProfileName))
                return Error(404, $"Profile '{(profile.ValueKind == JsonValueKind.String ? profile.GetString() : profile.GetRawText())}' not found");
            if (root.TryGetProperty("active_agent_profile_id", out var agentProfile) && agentProfile.ValueKind != JsonValueKind.Null)
                return Error(404, $"Agent profile '{(agentProfile.ValueKind == JsonValueKind.String ? agentProfile.GetString() : agentProfile.GetRawText())}' not found");

            object message = ClientPreferences.Get.Instance;
            if (root.TryGetProperty("misc_settings_diff", out var misc) && misc.ValueKind != JsonValueKind.Null)
            {
                if (misc.ValueKind != JsonValueKind.Object) return Error(400, "misc_settings_diff must be a JSON object");
                message = new ClientPreferences.Merge(misc.GetRawText());
            }
            try
            {
                return await preferences.ActorRef.Ask<object>(message, c.Limits.AskTimeout) switch
                {
                    ClientPreferences.Document d => Settings(c, d.Json),
                    ClientPreferences.TooLarge t => Error(413, $"misc_settings would be {t.Bytes} bytes; at most {ClientPreferences.MaxBytes} are kept"),
                    _ => Error(500, "unexpected answer"),
                };
            }
            catch (AskTimeoutException)
            {
                return Error(503, "the settings store did not answer in time; nothing was changed");
            }
        }
    }

    /// <summary>agent-server's <c>SettingsResponse</c> for this server.</summary>
    private static IResult Settings(RequestContext c, string miscJson)
    {
        var misc = JsonNode.Parse(miscJson) as JsonObject ?? new JsonObject();
        // Analytics consent defaults to "no": this server sends nothing anywhere, and the canvas raises a blocking
        // consent dialog while the answer is unknown.
        if (misc["app_preferences"] is not JsonObject prefs) misc["app_preferences"] = prefs = new JsonObject();
        if (prefs["user_consents_to_analytics"] is null) prefs["user_consents_to_analytics"] = false;
        var response = new JsonObject
        {
            ["agent_settings"] = new JsonObject
            {
                ["schema_version"] = 5,
                ["agent_kind"] = "openhands",
                ["llm"] = JsonSerializer.SerializeToNode(Llm(c)),
                ["tools"] = null,
                ["mcp_config"] = new JsonObject(),
            },
            ["conversation_settings"] = new JsonObject
            {
                ["schema_version"] = 1,
                ["max_iterations"] = 500,
                ["confirmation_mode"] = false,
                ["security_analyzer"] = "none",
            },
            ["llm_api_key_is_set"] = true,
            ["active_profile"] = ProfileName,
            ["active_agent_profile_id"] = null,
            ["misc_settings"] = misc,
        };
        return Results.Bytes(Encoding.UTF8.GetBytes(response.ToJsonString()), "application/json");
    }
}
