namespace Akka.Sync.Protocol;

/// <summary>OpenHands' ConversationExecutionStatus (V1).</summary>
public enum ExecutionStatus
{
    Idle,
    Running,
    Paused,
    WaitingForConfirmation,
    Finished,
    Error,
    Stuck,
}

public static class ExecutionStatusNames
{
    public static string ToWire(this ExecutionStatus s) => s switch
    {
        ExecutionStatus.Idle => "idle",
        ExecutionStatus.Running => "running",
        ExecutionStatus.Paused => "paused",
        ExecutionStatus.WaitingForConfirmation => "waiting_for_confirmation",
        ExecutionStatus.Finished => "finished",
        ExecutionStatus.Error => "error",
        ExecutionStatus.Stuck => "stuck",
        _ => throw new ArgumentOutOfRangeException(nameof(s), s, null),
    };

    public static bool TryParse(string? text, out ExecutionStatus status)
    {
        foreach (var s in Enum.GetValues<ExecutionStatus>())
        {
            if (string.Equals(s.ToWire(), text, StringComparison.OrdinalIgnoreCase))
            {
                status = s;
                return true;
            }
        }
        status = default;
        return false;
    }
}
