using Akka.Actor;
using Akka.Persistence;
using Akka.Persistence.Journal;

namespace Akka.Sync.Actors.Tests.Support;

/// <summary>
/// A persistent actor for recovery tests: persists, tags, snapshots and deletes on command, and records what its
/// recovery saw ("log"). Shared by the SQLite tests here and, as a linked file, the PostgreSQL ones in Cluster.Tests.
/// </summary>
public sealed class RecoveryRecorder(string persistenceId, Recovery recovery) : UntypedPersistentActor
{
    private readonly List<string> _seen = [];
    private IActorRef? _waiting;

    public override string PersistenceId => persistenceId;
    public override Recovery Recovery => recovery;

    public static Props Props(string persistenceId, Recovery? recovery = null) =>
        Akka.Actor.Props.Create(() => new RecoveryRecorder(persistenceId, recovery ?? Recovery.Default));

    protected override void OnRecover(object message)
    {
        switch (message)
        {
            case SnapshotOffer offer: _seen.Add($"snapshot {offer.Snapshot}@{offer.Metadata.SequenceNr}"); break;
            case string s: _seen.Add($"{s}@{LastSequenceNr}"); break;
            case RecoveryCompleted: _seen.Add($"done@{LastSequenceNr}"); break;
        }
    }

    protected override void OnCommand(object message)
    {
        switch (message)
        {
            case "log":
                Sender.Tell(string.Join(" | ", _seen));
                break;
            case string s when s.StartsWith("persist ", StringComparison.Ordinal):
                PersistAll(s["persist ".Length..].Split(' '), _ => { });
                DeferAsync("", _ => Sender.Tell(LastSequenceNr));
                break;
            case string s when s.StartsWith("tagged ", StringComparison.Ordinal):
                // A tagged write takes Akka.Persistence.Sql's own path (GroupCommitJournal writes untagged ones).
                Persist(new Tagged(s["tagged ".Length..], ["t"]), _ => Sender.Tell(LastSequenceNr));
                break;
            case string s when s.StartsWith("snapshot ", StringComparison.Ordinal):
                _waiting = Sender;
                SaveSnapshot(s["snapshot ".Length..]);
                break;
            case string s when s.StartsWith("delete ", StringComparison.Ordinal):
                _waiting = Sender;
                DeleteMessages(long.Parse(s["delete ".Length..], System.Globalization.CultureInfo.InvariantCulture));
                break;
            case SaveSnapshotSuccess ok: _waiting?.Tell(ok.Metadata.SequenceNr); break;
            case DeleteMessagesSuccess ok: _waiting?.Tell(ok.ToSequenceNr); break;
            case SaveSnapshotFailure or DeleteMessagesFailure: _waiting?.Tell(message.ToString()); break;
        }
    }
}
