using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Akka.Actor;
using Akka.Sync.Actors.Conversations;
using Akka.Sync.Protocol;
using Akka.Sync.Protocol.V0;
using Akka.Sync.Protocol.V1;

namespace Akka.Sync.Actors.Agents;

/// <summary>
/// The built-in demo agent (CONTRACT §9): on each run it shows a terminal command, its output and an
/// answer, then finishes. It lives beside its conversation (a child of the entity) and appends through
/// the entity like any producer, one step at a time, so a pause or a new run ends it cleanly.
/// </summary>
public sealed class DemoAgentActor : ReceiveActor, IWithTimers
{
    public sealed record StartRun(int RunId, Dialect Dialect, byte[]? UserMessageJson);
    public sealed record Step(int RunId, IReadOnlyList<Draft> Drafts);
    public sealed record StepDone(int RunId);
    public sealed record StepRefused(int RunId);
    private sealed record Next(int RunId);

    private readonly TimeSpan _stepDelay;
    private int _runId;
    private Queue<IReadOnlyList<Draft>> _steps = new();

    public ITimerScheduler Timers { get; set; } = null!;

    public static Props Props(TimeSpan stepDelay) => Akka.Actor.Props.Create(() => new DemoAgentActor(stepDelay));

    public DemoAgentActor(TimeSpan stepDelay)
    {
        _stepDelay = stepDelay;
        Receive<StartRun>(s =>
        {
            _runId = s.RunId;
            // A run started by a new user message plans a fresh answer; a run resumed without one (pause, then run)
            // carries on with the steps the pause left, or, when the answer was already given, just finishes.
            if (s.UserMessageJson is not null)
                _steps = new Queue<IReadOnlyList<Draft>>(s.Dialect == Dialect.V0
                    ? PlanV0(V0UserText(s.UserMessageJson))
                    : Plan(UserText(s.UserMessageJson)));
            else if (_steps.Count == 0)
                _steps = new Queue<IReadOnlyList<Draft>>([s.Dialect == Dialect.V0 ? FinishV0() : Finish()]);
            ScheduleNext();
        });
        Receive<Next>(n =>
        {
            if (n.RunId == _runId && _steps.TryPeek(out var drafts))
                Context.Parent.Tell(new Step(_runId, drafts));
        });
        Receive<StepDone>(d =>
        {
            if (d.RunId != _runId) return;
            _steps.TryDequeue(out _);
            ScheduleNext();
        });
        // A refused step (the run was paused or superseded) stays first in line for a resumed run.
        Receive<StepRefused>(_ => { });
    }

    private void ScheduleNext()
    {
        if (_steps.Count == 0) return;
        if (_stepDelay <= TimeSpan.Zero) Self.Tell(new Next(_runId));
        else Timers.StartSingleTimer("next", new Next(_runId), _stepDelay);
    }

    /// <summary>The run: a terminal action, its observation, then the answer and <c>finished</c>.</summary>
    public static IEnumerable<IReadOnlyList<Draft>> Plan(string userText)
    {
        var actionId = Guid.NewGuid().ToString("D");
        var callId = "call_" + Guid.NewGuid().ToString("N")[..24];
        var responseId = "demo-" + Guid.NewGuid().ToString("N")[..12];
        var command = "echo 'Hello from the Akka.Sync demo agent'";
        var output = "Hello from the Akka.Sync demo agent";

        yield return [new Draft("ActionEvent", EventSources.Agent, actionId, V1Json.Write(w =>
        {
            w.WriteStartObject();
            w.WriteStartArray("thought"u8);
            w.WriteStartObject(); w.WriteString("type"u8, "text"); w.WriteString("text"u8, "Let me run a command to say hello."); w.WriteEndObject();
            w.WriteEndArray();
            w.WriteNull("reasoning_content"u8);
            w.WriteStartArray("thinking_blocks"u8); w.WriteEndArray();
            w.WriteNull("responses_reasoning_item"u8);
            w.WriteStartObject("action"u8);
            w.WriteString("kind"u8, "ExecuteBashAction");
            w.WriteString("command"u8, command);
            w.WriteBoolean("is_input"u8, false);
            w.WriteNull("timeout"u8);
            w.WriteBoolean("reset"u8, false);
            w.WriteEndObject();
            w.WriteString("tool_name"u8, "execute_bash");
            w.WriteString("tool_call_id"u8, callId);
            w.WriteStartObject("tool_call"u8);
            w.WriteString("id"u8, callId);
            w.WriteString("name"u8, "execute_bash");
            w.WriteString("arguments"u8, JsonSerializer.Serialize(new Dictionary<string, string> { ["command"] = command }));
            w.WriteString("origin"u8, "completion");
            w.WriteEndObject();
            w.WriteString("llm_response_id"u8, responseId);
            w.WriteString("security_risk"u8, "LOW");
            w.WriteEndObject();
        }))];

        yield return [new Draft("ObservationEvent", EventSources.Environment, null, V1Json.Write(w =>
        {
            w.WriteStartObject();
            w.WriteString("tool_name"u8, "execute_bash");
            w.WriteString("tool_call_id"u8, callId);
            w.WriteStartObject("observation"u8);
            w.WriteString("kind"u8, "ExecuteBashObservation");
            w.WriteStartArray("content"u8);
            w.WriteStartObject(); w.WriteBoolean("cache_prompt"u8, false); w.WriteString("type"u8, "text"); w.WriteString("text"u8, output); w.WriteEndObject();
            w.WriteEndArray();
            w.WriteBoolean("is_error"u8, false);
            w.WriteString("command"u8, command);
            w.WriteNumber("exit_code"u8, 0);
            w.WriteBoolean("timeout"u8, false);
            // Everything the SDK's TerminalObservation always carries: clients read metadata.exit_code unguarded.
            w.WriteStartObject("metadata"u8);
            w.WriteNumber("exit_code"u8, 0);
            w.WriteNumber("pid"u8, -1);
            w.WriteString("username"u8, "demo");
            w.WriteString("hostname"u8, "akka-sync");
            w.WriteString("working_dir"u8, "/workspace");
            w.WriteNull("py_interpreter_path"u8);
            w.WriteString("prefix"u8, "");
            w.WriteString("suffix"u8, "");
            w.WriteEndObject();
            w.WriteNull("full_output_save_dir"u8);
            w.WriteEndObject();
            w.WriteString("action_id"u8, actionId);
            w.WriteEndObject();
        }))];

        var answer = $"You said: \"{Truncate(userText, 500)}\". I am the Akka.Sync demo agent: I ran `{command}` and it printed \"{output}\".";
        yield return
        [
            new Draft("MessageEvent", EventSources.Agent, null, V1Json.MessageBody("assistant", V1Json.TextContent(answer))),
            FinishedDraft(),
        ];
    }

    /// <summary>A resumed run whose answer was already given: nothing left to do but finish.</summary>
    public static IReadOnlyList<Draft> Finish() => [FinishedDraft()];

    private static Draft FinishedDraft() => new("ConversationStateUpdateEvent", EventSources.Environment, null,
        V1Json.StateUpdateBody("execution_status", ExecutionStatus.Finished.ToWire()));

    /// <summary>The V0 counterpart of <see cref="Finish"/>: back to awaiting the user.</summary>
    public static IReadOnlyList<Draft> FinishV0() => [Draft.FromV0(V0Json.AgentStateChanged(AgentState.AwaitingUserInput))];

    /// <summary>The same run in V0 events: a <c>run</c> action, its output, the answer, then awaiting the user.</summary>
    public static IEnumerable<IReadOnlyList<Draft>> PlanV0(string userText)
    {
        const string command = "echo 'Hello from the Akka.Sync demo agent'";
        const string output = "Hello from the Akka.Sync demo agent";
        var answer = $"You said: \"{Truncate(userText, 500)}\". I am the Akka.Sync demo agent: I ran `{command}` and it printed \"{output}\".";
        yield return [V0(new JsonObject
        {
            ["action"] = "run",
            ["source"] = EventSources.Agent,
            ["message"] = "Running command: " + command,
            ["args"] = new JsonObject
            {
                ["command"] = command, ["is_input"] = false, ["thought"] = "Let me run a command to say hello.",
                ["blocking"] = false, ["hidden"] = false, ["confirmation_state"] = "confirmed", ["security_risk"] = -1,
            },
        })];
        yield return [V0(new JsonObject
        {
            ["observation"] = "run",
            ["source"] = EventSources.Environment,
            ["message"] = $"Command `{command}` executed with exit code 0.",
            ["content"] = output,
            ["extras"] = new JsonObject
            {
                ["command"] = command,
                ["metadata"] = new JsonObject { ["exit_code"] = 0, ["pid"] = -1, ["prefix"] = "", ["suffix"] = "" },
                ["hidden"] = false,
            },
            ["success"] = true,
        })];
        yield return
        [
            V0(new JsonObject
            {
                ["action"] = "message",
                ["source"] = EventSources.Agent,
                ["args"] = new JsonObject
                {
                    ["content"] = answer, ["file_urls"] = new JsonArray(), ["image_urls"] = new JsonArray(),
                    ["wait_for_response"] = true, ["security_risk"] = -1,
                },
            }),
            Draft.FromV0(V0Json.AgentStateChanged(AgentState.AwaitingUserInput)),
        ];

        static Draft V0(JsonObject json)
        {
            using var doc = JsonDocument.Parse(json.ToJsonString());
            return V0Json.TryParse(doc.RootElement, null, out var e, out var error) ? Draft.FromV0(e) : throw new InvalidOperationException(error);
        }
    }

    /// <summary>The content of a stored V0 user <c>message</c> action.</summary>
    public static string V0UserText(byte[]? actionJson)
    {
        if (actionJson is null) return "";
        using var doc = JsonDocument.Parse(actionJson);
        return doc.RootElement.TryGetProperty("args", out var args) && args.TryGetProperty("content", out var c)
               && c.ValueKind == JsonValueKind.String ? c.GetString()! : "";
    }

    /// <summary>The text items of a user MessageEvent (or of a bare content array), joined.</summary>
    public static string UserText(byte[]? messageEventJson, bool isContentArray = false)
    {
        if (messageEventJson is null) return "";
        using var doc = JsonDocument.Parse(messageEventJson);
        var sb = new StringBuilder();
        JsonElement content = default;
        var found = isContentArray
            ? (content = doc.RootElement).ValueKind == JsonValueKind.Array
            : doc.RootElement.TryGetProperty("llm_message", out var m) && m.TryGetProperty("content", out content)
              && content.ValueKind == JsonValueKind.Array;
        if (found)
        {
            foreach (var item in content.EnumerateArray())
                if (item.TryGetProperty("text", out var t) && t.ValueKind == JsonValueKind.String)
                    sb.Append(sb.Length > 0 ? " " : "").Append(t.GetString());
        }
        return sb.ToString();
    }

    private static string Truncate(string s, int max) => s.Length <= max ? s : s[..max] + "…";
}
