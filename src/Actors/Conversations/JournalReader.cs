using Akka.Actor;
using Akka.Persistence.Query;
using Akka.Persistence.Sql.Query;
using Akka.Streams;
using Akka.Streams.Dsl;
using EventEnvelope = Akka.Sync.Protocol.EventEnvelope;

namespace Akka.Sync.Actors.Conversations;

/// <summary>
/// Reads stored events older than a conversation's in-memory tail, from the journal
/// (Akka.Persistence.Query over Akka.Persistence.Sql). Used by the conversation actor only.
/// </summary>
public static class JournalReader
{
    public static Task<EventEnvelope[]> Read(ActorSystem system, string persistenceId, long fromSeqNr, long toSeqNr)
    {
        var journal = PersistenceQuery.Get(system).ReadJournalFor<SqlReadJournal>(SqlReadJournal.Identifier);
        return journal.CurrentEventsByPersistenceId(persistenceId, fromSeqNr, toSeqNr)
            .Select(e => e.Event)
            .Where(e => e is EventEnvelope)
            .Select(e => (EventEnvelope)e)
            .RunWith(Sink.Seq<EventEnvelope>(), system.Materializer())
            .ContinueWith(t => t.Result.ToArray(), TaskContinuationOptions.OnlyOnRanToCompletion);
    }
}
