using Akka.Sync.Protocol;

namespace Akka.Sync.Actors.Conversations;

/// <summary>
/// Several log entries of one conversation persisted as one journal row: what a write of more than one event (an
/// agent batch, a message and its status change) stores, atomically, with one sequence number. The index records the
/// row's sequence number for each entry in it (<see cref="EventIndex.JournalSeqNrOf"/>); journal reads hand its entries
/// out one by one (<see cref="JournalReader"/>). Rows of single <see cref="EventEnvelope"/>s, as every write stored
/// before, are read as they were.
/// </summary>
public sealed record EventBatch(EventEnvelope[] Events) : ISyncMessage;
