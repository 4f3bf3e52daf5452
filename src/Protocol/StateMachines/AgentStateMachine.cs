using Akka.Sync.Protocol.V0;

namespace Akka.Sync.Protocol.StateMachines;

/// <summary>Who asks for an agent-state change: a socket client (restricted) or the agent runtime (anything).</summary>
public enum StateRequester
{
    Client,
    Agent,
}

/// <summary>The outcome of asking the V0 agent-state machine for a change.</summary>
public abstract record AgentStateDecision
{
    /// <summary>Move to this state (append the change events).</summary>
    public sealed record Change(AgentState To) : AgentStateDecision;

    /// <summary>Already in that state: append nothing.</summary>
    public sealed record Unchanged : AgentStateDecision;

    /// <summary>Not allowed: an error frame to the asking socket, nothing appended.</summary>
    public sealed record Refused(string Reason) : AgentStateDecision;

    public static readonly Unchanged Same = new();
}

/// <summary>
/// CONTRACT §6 as pure functions. OpenHands itself validates nothing (<c>set_agent_state_to</c>); we let
/// clients ask only for what the frontend's buttons ask for, and agents for anything.
/// </summary>
public static class AgentStateMachine
{
    /// <summary>The state a new V0 conversation is in, and the one it is in once ready.</summary>
    public const AgentState Initial = AgentState.Loading;
    public const AgentState Ready = AgentState.AwaitingUserInput;

    public static AgentStateDecision OnRequest(AgentState current, AgentState requested, StateRequester requester)
    {
        if (requester == StateRequester.Client)
        {
            var allowed = requested switch
            {
                AgentState.Running or AgentState.Paused or AgentState.Stopped => true,
                AgentState.UserConfirmed or AgentState.UserRejected => current == AgentState.AwaitingUserConfirmation,
                _ => false,
            };
            if (!allowed)
            {
                return new AgentStateDecision.Refused(requested is AgentState.UserConfirmed or AgentState.UserRejected
                    ? $"{requested.ToWire()} is only possible while awaiting_user_confirmation (the agent is {current.ToWire()})"
                    : $"a client cannot set the agent state to {requested.ToWire()}");
            }
        }
        return requested == current ? AgentStateDecision.Same : new AgentStateDecision.Change(requested);
    }

    /// <summary>A user message starts the agent from these states; elsewhere the state stays.</summary>
    public static AgentState? OnUserMessage(AgentState current) =>
        current is AgentState.AwaitingUserInput or AgentState.Finished or AgentState.Stopped or AgentState.Paused
            ? AgentState.Running
            : null;
}
