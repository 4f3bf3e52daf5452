namespace Akka.Sync.Protocol.V0;

/// <summary>OpenHands' V0 AgentState (<c>openhands/core/schema/agent.py</c>).</summary>
public enum AgentState
{
    Loading,
    Running,
    AwaitingUserInput,
    Paused,
    Stopped,
    Finished,
    Rejected,
    Error,
    AwaitingUserConfirmation,
    UserConfirmed,
    UserRejected,
    RateLimited,
}

public static class AgentStateNames
{
    public static string ToWire(this AgentState s) => s switch
    {
        AgentState.Loading => "loading",
        AgentState.Running => "running",
        AgentState.AwaitingUserInput => "awaiting_user_input",
        AgentState.Paused => "paused",
        AgentState.Stopped => "stopped",
        AgentState.Finished => "finished",
        AgentState.Rejected => "rejected",
        AgentState.Error => "error",
        AgentState.AwaitingUserConfirmation => "awaiting_user_confirmation",
        AgentState.UserConfirmed => "user_confirmed",
        AgentState.UserRejected => "user_rejected",
        AgentState.RateLimited => "rate_limited",
        _ => throw new ArgumentOutOfRangeException(nameof(s), s, null),
    };

    public static bool TryParse(string? text, out AgentState state)
    {
        foreach (var s in Enum.GetValues<AgentState>())
        {
            if (string.Equals(s.ToWire(), text, StringComparison.Ordinal))
            {
                state = s;
                return true;
            }
        }
        state = default;
        return false;
    }
}
