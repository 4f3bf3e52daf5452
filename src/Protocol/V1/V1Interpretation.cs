using System.Text.Json;

namespace Akka.Sync.Protocol.V1;

/// <summary>What a stored V1 event means to the conversation's own state.</summary>
public readonly record struct V1Effect(
    ExecutionStatus? Status,
    PendingAction? OpensAction,
    string? ClosesActionId,
    string? ClosesToolCallId);

/// <summary>An ActionEvent that no observation has answered yet (needed to reject it).</summary>
public sealed record PendingAction(string ActionId, string? ToolName, string? ToolCallId);

/// <summary>
/// Reads the few kinds the server interprets (status updates, actions and their observations);
/// every other kind has no effect and is relayed as it came.
/// </summary>
public static class V1Interpretation
{
    public static V1Effect Of(string kind, string id, ReadOnlySpan<byte> json)
    {
        switch (kind)
        {
            case "ConversationStateUpdateEvent":
            case "ActionEvent":
            case "ObservationEvent":
            case "UserRejectObservation":
            case "AgentErrorEvent":
                break;
            default:
                return default;
        }
        var reader = new Utf8JsonReader(json);
        using var doc = JsonDocument.ParseValue(ref reader);
        var root = doc.RootElement;
        switch (kind)
        {
            case "ConversationStateUpdateEvent":
                return root.TryGetProperty("key", out var key) && key.ValueKind == JsonValueKind.String
                       && key.ValueEquals("execution_status")
                       && root.TryGetProperty("value", out var value) && value.ValueKind == JsonValueKind.String
                       && ExecutionStatusNames.TryParse(value.GetString(), out var status)
                    ? new V1Effect(status, null, null, null)
                    : default;
            case "ActionEvent":
                return new V1Effect(null, new PendingAction(id, String(root, "tool_name"), String(root, "tool_call_id")), null, null);
            default:
                return new V1Effect(null, null, String(root, "action_id"), String(root, "tool_call_id"));
        }
    }

    private static string? String(JsonElement e, string name) =>
        e.TryGetProperty(name, out var p) && p.ValueKind == JsonValueKind.String ? p.GetString() : null;
}
