using Akka.Sync.Protocol.StateMachines;
using Akka.Sync.Protocol.V0;
using Xunit;
using A = Akka.Sync.Protocol.V0.AgentState;

namespace Akka.Sync.Protocol.Tests.V0;

/// <summary>CONTRACT §6: every (state, requested state, requester) pair.</summary>
public sealed class AgentStateMachineTests
{
    public static TheoryData<A, A, StateRequester> AllPairs()
    {
        var data = new TheoryData<A, A, StateRequester>();
        foreach (var from in Enum.GetValues<A>())
            foreach (var to in Enum.GetValues<A>())
                foreach (var who in Enum.GetValues<StateRequester>())
                    data.Add(from, to, who);
        return data;
    }

    /// <summary>The contract's rule, spelled out independently of the implementation.</summary>
    private static bool ClientMayAsk(A from, A to) =>
        to is A.Running or A.Paused or A.Stopped
        || (to is A.UserConfirmed or A.UserRejected && from == A.AwaitingUserConfirmation);

    [Theory]
    [MemberData(nameof(AllPairs))]
    public void Every_request_is_a_change_a_no_op_or_a_refusal_as_the_contract_says(A from, A to, StateRequester who)
    {
        var decision = AgentStateMachine.OnRequest(from, to, who);

        if (who == StateRequester.Client && !ClientMayAsk(from, to))
            Assert.False(string.IsNullOrEmpty(Assert.IsType<AgentStateDecision.Refused>(decision).Reason));
        else if (from == to)
            Assert.IsType<AgentStateDecision.Unchanged>(decision);
        else
            Assert.Equal(to, Assert.IsType<AgentStateDecision.Change>(decision).To);
    }

    [Theory]
    [InlineData(A.AwaitingUserInput, A.Running)]
    [InlineData(A.Finished, A.Running)]
    [InlineData(A.Stopped, A.Running)]
    [InlineData(A.Paused, A.Running)]
    [InlineData(A.Loading, null)]
    [InlineData(A.Running, null)]
    [InlineData(A.Error, null)]
    [InlineData(A.Rejected, null)]
    [InlineData(A.AwaitingUserConfirmation, null)]
    [InlineData(A.UserConfirmed, null)]
    [InlineData(A.UserRejected, null)]
    [InlineData(A.RateLimited, null)]
    public void A_user_message_starts_the_agent_only_from_waiting_finished_stopped_or_paused(A from, A? expected) =>
        Assert.Equal(expected, AgentStateMachine.OnUserMessage(from));

    [Fact]
    public void New_conversations_load_then_await_the_user()
    {
        Assert.Equal(A.Loading, AgentStateMachine.Initial);
        Assert.Equal(A.AwaitingUserInput, AgentStateMachine.Ready);
    }

    [Fact]
    public void Every_state_has_its_OpenHands_name_and_parses_back()
    {
        string[] names = ["loading", "running", "awaiting_user_input", "paused", "stopped", "finished", "rejected", "error",
            "awaiting_user_confirmation", "user_confirmed", "user_rejected", "rate_limited"];
        Assert.Equal(names, Enum.GetValues<A>().Select(s => s.ToWire()));
        foreach (var n in names)
        {
            Assert.True(AgentStateNames.TryParse(n, out var s));
            Assert.Equal(n, s.ToWire());
        }
        Assert.False(AgentStateNames.TryParse("RUNNING", out _));
        Assert.False(AgentStateNames.TryParse("init", out _));
    }
}
