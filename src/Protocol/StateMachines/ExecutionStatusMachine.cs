namespace Akka.Sync.Protocol.StateMachines;

/// <summary>The outcome of asking the V1 status machine for a change.</summary>
public abstract record StatusDecision
{
    /// <summary>Allowed: append these status changes, in order (possibly none).</summary>
    public sealed record Accepted(IReadOnlyList<ExecutionStatus> Changes, bool AppendPauseEvent = false, bool RejectPendingActions = false)
        : StatusDecision;

    /// <summary>Not allowed from the current status (HTTP 409).</summary>
    public sealed record Rejected(string Reason) : StatusDecision;

    public static readonly Accepted Nothing = new([]);
}

/// <summary>
/// OpenHands' V1 execution-status rules (software-agent-sdk <c>local_conversation.py</c>) as pure functions.
/// Agents set any status through ingest; these are the transitions users can cause.
/// </summary>
public static class ExecutionStatusMachine
{
    private static bool CanStartRun(ExecutionStatus s) =>
        s is ExecutionStatus.Idle or ExecutionStatus.Paused or ExecutionStatus.Error;

    /// <summary>
    /// <c>send_message</c>: a message on <c>finished</c> resets to <c>idle</c>; with <c>run</c> it then starts a run
    /// unless one cannot start from the status it is in (a running conversation just takes the message).
    /// </summary>
    public static StatusDecision.Accepted OnMessage(ExecutionStatus current, bool run)
    {
        var changes = new List<ExecutionStatus>(2);
        var status = current;
        if (status == ExecutionStatus.Finished)
        {
            status = ExecutionStatus.Idle;
            changes.Add(status);
        }
        if (run && CanStartRun(status))
            changes.Add(ExecutionStatus.Running);
        return new StatusDecision.Accepted(changes);
    }

    /// <summary><c>run()</c>: from idle, paused or error to running; 409 from anything else.</summary>
    public static StatusDecision OnRun(ExecutionStatus current) => current switch
    {
        ExecutionStatus.Running => new StatusDecision.Rejected("Conversation already running"),
        _ when CanStartRun(current) => new StatusDecision.Accepted([ExecutionStatus.Running]),
        _ => new StatusDecision.Rejected($"Cannot run a conversation that is {current.ToWire()}"),
    };

    /// <summary>
    /// <c>pause()</c>: only from idle or running, to paused plus a PauseEvent; anywhere else it appends nothing.
    /// </summary>
    public static StatusDecision.Accepted OnPause(ExecutionStatus current) =>
        current is ExecutionStatus.Idle or ExecutionStatus.Running
            ? new StatusDecision.Accepted([ExecutionStatus.Paused], AppendPauseEvent: true)
            : StatusDecision.Nothing;

    /// <summary>
    /// <c>respond_to_confirmation</c>: only while waiting for confirmation; accept runs,
    /// reject answers each pending action with a UserRejectObservation and goes idle.
    /// </summary>
    public static StatusDecision OnConfirmation(ExecutionStatus current, bool accept) =>
        current != ExecutionStatus.WaitingForConfirmation
            ? new StatusDecision.Rejected($"Conversation is {current.ToWire()}, not waiting_for_confirmation")
            : accept
                ? new StatusDecision.Accepted([ExecutionStatus.Running])
                : new StatusDecision.Accepted([ExecutionStatus.Idle], RejectPendingActions: true);
}
