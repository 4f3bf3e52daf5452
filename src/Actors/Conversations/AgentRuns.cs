using Akka.Actor;
using Akka.Sync.Actors.Agents;
using Akka.Sync.Protocol;

namespace Akka.Sync.Actors.Conversations;

/// <summary>
/// The demo agent's life cycle beside its conversation (CONTRACT §9): a durable change to running starts a run, which
/// takes the newest user message the agent has not seen, and a step lands only in the run it belongs to.
/// Owned by one <see cref="ConversationActor"/>; not thread-safe.
/// </summary>
public sealed class AgentRuns(ConversationSettings settings)
{
    private int _runId;
    private bool _starting; // a durable event of the current batch moved the status to running
    private IActorRef? _agent;
    private byte[]? _unseenUserMessage; // a user message stored since the demo agent's last run started

    /// <summary>Whether the demo agent exists (a running conversation with one does not passivate).</summary>
    public bool HasAgent => _agent is not null;

    /// <summary>A durable event (never a recovered one) moved the conversation from <paramref name="wasRunning"/> to <paramref name="isRunning"/>.</summary>
    public void Applied(bool wasRunning, bool isRunning)
    {
        if (isRunning && !wasRunning) _starting = true;
    }

    /// <summary>A step of the current run, on the conversation's rules; a pause or a new run ends the old one.</summary>
    public Decision Decide(DemoAgentActor.Step step, ConversationState decided) =>
        step.RunId == _runId ? decided.DecideAgentStep(step.Drafts) : new Decision.Refuse(ResultCode.Conflict, "the run is over");

    /// <summary>After a durable batch: remember the newest user message, and start the run the batch began.</summary>
    public void Written(IReadOnlyList<object> events, Dialect dialect, IActorContext context)
    {
        if (settings.DemoAgent)
            foreach (var e in events)
                if (e is EventEnvelope { Source: EventSources.User, Kind: "MessageEvent" or "action:message" } m)
                    _unseenUserMessage = m.Json;
        if (!_starting) return;
        _starting = false;
        _runId++;
        if (!settings.DemoAgent) return;
        // A child of the entity, under the default strategy: if it throws it restarts with no plan, so the run in
        // progress stalls until the next one (Stop, then resume) gives it one; it stops with the entity.
        _agent ??= context.ActorOf(DemoAgentActor.Props(settings.DemoStepDelay), "demo-agent");
        // The newest user message the agent has not seen yet (null: a resumed run, the agent carries on).
        _agent.Tell(new DemoAgentActor.StartRun(_runId, dialect, _unseenUserMessage));
        _unseenUserMessage = null;
    }
}
