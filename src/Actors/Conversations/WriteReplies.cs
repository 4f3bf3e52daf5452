using Akka.Sync.Actors.Agents;
using Akka.Sync.Protocol;
using static Akka.Sync.Protocol.ConversationReplies;

namespace Akka.Sync.Actors.Conversations;

/// <summary>The answers of a conversation's write pipeline, each in the shape its caller asked for.</summary>
public static class WriteReplies
{
    /// <summary>
    /// The success answer once a decision is durable: the handler's own answer, completed with what the decision
    /// wrote (an agent batch's per-item ids and seqs, a create's Created or Ok).
    /// </summary>
    public static object Success(object reply, Decision decision, IReadOnlyList<EventEnvelope> stamped) => (reply, decision) switch
    {
        (AppendResult, Decision.Append a) => new AppendResult(ResultCode.Ok, null, a.Answers(stamped)),
        (CreateResult, Decision.Store s) => new CreateResult(s.Code, null, null),
        _ => reply,
    };

    /// <summary>The answer to a refused or failed write, as the reply type the caller expects.</summary>
    public static object Refusal(object reply, ResultCode code, string detail) => reply switch
    {
        CreateResult => new CreateResult(code, detail, null),
        AppendResult => new AppendResult(code, detail, []),
        DemoAgentActor.StepDone d => new DemoAgentActor.StepRefused(d.RunId),
        _ => new CommandResult(code, detail),
    };

    /// <summary>
    /// The answer to a write that reached its conversation after its deadline: not applied, and never will be (its
    /// caller has already answered 503, or is about to).
    /// </summary>
    public static object Expired(IWriteCommand command) => Refusal(command switch
    {
        ConversationCommands.Create => new CreateResult(ResultCode.Ok, null, null),
        ConversationCommands.AppendEvents or ConversationCommands.AppendV0Events => new AppendResult(ResultCode.Ok, null, []),
        _ => CommandResult.Ok,
    }, ResultCode.Unavailable, "the conversation got this write after its caller stopped waiting; it was not applied");

    /// <summary>What every caller still waiting is told when the journal fails: nothing of theirs was stored.</summary>
    public static object JournalUnavailable(object reply) => Refusal(reply, ResultCode.Unavailable, "journal unavailable");
}
