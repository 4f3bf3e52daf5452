using Akka.Sync.Protocol.StateMachines;
using Xunit;
using S = Akka.Sync.Protocol.ExecutionStatus;

namespace Akka.Sync.Protocol.Tests;

/// <summary>Every (status × user operation) pair of CONTRACT §4, as a table.</summary>
public sealed class ExecutionStatusMachineTests
{
    // status, run flag, expected status changes after a message
    public static TheoryData<S, bool, S[]> Messages => new()
    {
        { S.Idle, false, [] }, { S.Idle, true, [S.Running] },
        { S.Running, false, [] }, { S.Running, true, [] },
        { S.Paused, false, [] }, { S.Paused, true, [S.Running] },
        { S.WaitingForConfirmation, false, [] }, { S.WaitingForConfirmation, true, [] },
        { S.Finished, false, [S.Idle] }, { S.Finished, true, [S.Idle, S.Running] },
        { S.Error, false, [] }, { S.Error, true, [S.Running] },
        { S.Stuck, false, [] }, { S.Stuck, true, [] },
    };

    [Theory]
    [MemberData(nameof(Messages))]
    public void A_message_resets_finished_to_idle_and_runs_only_from_idle_paused_or_error(S status, bool run, S[] expected) =>
        Assert.Equal(expected, ExecutionStatusMachine.OnMessage(status, run).Changes);

    [Theory]
    [InlineData(S.Idle, true)]
    [InlineData(S.Paused, true)]
    [InlineData(S.Error, true)]
    [InlineData(S.Running, false)]
    [InlineData(S.WaitingForConfirmation, false)]
    [InlineData(S.Finished, false)]
    [InlineData(S.Stuck, false)]
    public void Run_goes_to_running_from_idle_paused_or_error_and_is_refused_elsewhere(S status, bool allowed)
    {
        var decision = ExecutionStatusMachine.OnRun(status);
        if (allowed)
            Assert.Equal([S.Running], Assert.IsType<StatusDecision.Accepted>(decision).Changes);
        else
            Assert.Contains(status.ToWire(), Assert.IsType<StatusDecision.Rejected>(decision).Reason);
    }

    [Theory]
    [InlineData(S.Idle, true)]
    [InlineData(S.Running, true)]
    [InlineData(S.Paused, false)]
    [InlineData(S.WaitingForConfirmation, false)]
    [InlineData(S.Finished, false)]
    [InlineData(S.Error, false)]
    [InlineData(S.Stuck, false)]
    public void Pause_moves_idle_or_running_to_paused_with_a_pause_event_and_does_nothing_elsewhere(S status, bool pauses)
    {
        var decision = ExecutionStatusMachine.OnPause(status);
        Assert.Equal(pauses, decision.AppendPauseEvent);
        Assert.Equal(pauses ? [S.Paused] : [], decision.Changes);
    }

    [Theory]
    [InlineData(S.Idle)]
    [InlineData(S.Running)]
    [InlineData(S.Paused)]
    [InlineData(S.Finished)]
    [InlineData(S.Error)]
    [InlineData(S.Stuck)]
    public void Confirmation_is_refused_unless_waiting_for_it(S status)
    {
        Assert.IsType<StatusDecision.Rejected>(ExecutionStatusMachine.OnConfirmation(status, accept: true));
        Assert.IsType<StatusDecision.Rejected>(ExecutionStatusMachine.OnConfirmation(status, accept: false));
    }

    [Fact]
    public void Accepting_a_confirmation_runs()
    {
        var a = Assert.IsType<StatusDecision.Accepted>(ExecutionStatusMachine.OnConfirmation(S.WaitingForConfirmation, accept: true));
        Assert.Equal([S.Running], a.Changes);
        Assert.False(a.RejectPendingActions);
    }

    [Fact]
    public void Rejecting_a_confirmation_rejects_pending_actions_and_goes_idle()
    {
        var a = Assert.IsType<StatusDecision.Accepted>(ExecutionStatusMachine.OnConfirmation(S.WaitingForConfirmation, accept: false));
        Assert.Equal([S.Idle], a.Changes);
        Assert.True(a.RejectPendingActions);
    }

    [Theory]
    [InlineData(S.Idle, "idle")]
    [InlineData(S.Running, "running")]
    [InlineData(S.Paused, "paused")]
    [InlineData(S.WaitingForConfirmation, "waiting_for_confirmation")]
    [InlineData(S.Finished, "finished")]
    [InlineData(S.Error, "error")]
    [InlineData(S.Stuck, "stuck")]
    public void Statuses_have_the_OpenHands_wire_names(S status, string wire)
    {
        Assert.Equal(wire, status.ToWire());
        Assert.True(ExecutionStatusNames.TryParse(wire, out var parsed));
        Assert.Equal(status, parsed);
    }
}
