using Akka.Sync.Actors.Agents;
using Akka.Sync.Actors.Conversations;
using Akka.Sync.Protocol;
using Xunit;

namespace Akka.Sync.Actors.Tests.Pure;

/// <summary>Which run a demo step belongs to, with no actor system (no demo agent is started).</summary>
public sealed class AgentRunsTests
{
    private static readonly DateTime Now = new(2026, 11, 24, 12, 0, 0, DateTimeKind.Utc);
    private static readonly ConversationSettings NoAgent = ConversationSettings.Default with { DemoAgent = false };

    private static ConversationState Running()
    {
        var id = ConversationId.New();
        var s = ConversationState.Empty(id).Apply(new ConversationEvents.Created(id, Dialect.V1, null, Now.Ticks, []));
        return s.Stamp(Assert.IsType<Decision.Append>(s.DecideRun()).Drafts, Now).Aggregate(s, (acc, e) => acc.Apply(e));
    }

    [Fact]
    public void A_step_lands_only_in_the_run_that_a_durable_change_to_running_started()
    {
        var runs = new AgentRuns(NoAgent);
        var running = Running();
        var step = new DemoAgentActor.Step(1, DemoAgentActor.Finish());
        Assert.IsType<Decision.Refuse>(runs.Decide(step, running)); // no run has started yet

        runs.Applied(wasRunning: false, isRunning: true);
        runs.Written([], Dialect.V1, null!);
        Assert.IsType<Decision.Append>(runs.Decide(step, running));
        Assert.False(runs.HasAgent);

        runs.Applied(wasRunning: true, isRunning: true); // still running: no new run
        runs.Written([], Dialect.V1, null!);
        Assert.IsType<Decision.Append>(runs.Decide(step, running));

        runs.Applied(wasRunning: false, isRunning: true); // paused, then resumed: run 2 supersedes run 1
        runs.Written([], Dialect.V1, null!);
        Assert.IsType<Decision.Refuse>(runs.Decide(step, running));
        Assert.IsType<Decision.Append>(runs.Decide(step with { RunId = 2 }, running));
    }

    [Fact]
    public void A_step_of_the_current_run_is_refused_once_the_conversation_stopped_running()
    {
        var runs = new AgentRuns(NoAgent);
        runs.Applied(wasRunning: false, isRunning: true);
        runs.Written([], Dialect.V1, null!);
        var running = Running();
        var paused = running.Stamp(Assert.IsType<Decision.Append>(running.DecidePause()).Drafts, Now).Aggregate(running, (acc, e) => acc.Apply(e));

        Assert.IsType<Decision.Refuse>(runs.Decide(new DemoAgentActor.Step(1, DemoAgentActor.Finish()), paused));
    }
}
