using System.Data.Common;
using System.Runtime.CompilerServices;
using Akka.Actor;
using Akka.Persistence.Query;
using Akka.Persistence.Sql.Query;
using Akka.Streams;
using Akka.Streams.Dsl;
using Microsoft.Data.Sqlite;
using Npgsql;
using Akka.Sync.Actors.Serialization;
using EventEnvelope = Akka.Sync.Protocol.EventEnvelope;

namespace Akka.Sync.Actors.Conversations;

/// <summary>
/// Reads stored events older than a conversation's in-memory tail, from the journal, and the rows of one persistence
/// id from the snapshot store (a conversation's index segments). Used by the conversation actor only (replay chunks,
/// search pages, recovery of its index).
/// </summary>
/// <remarks>
/// With the journal's default table mapping (what Akka.Sync configures) it reads the journal table with one plain
/// SQL query on the journal's own connection string and deserialises each payload with the serializer recorded in
/// its row. Akka.Persistence.Query's <c>CurrentEventsByPersistenceId</c> (a stream, linq2db and several stages per
/// event) replayed ~15–20 k events/s on the bench machine, which made a 30,000-event replay take 2–3 s
/// (docs/benchmarks.md); the direct read is ~15× faster. Any other mapping or provider uses the query as before.
/// </remarks>
public static class JournalReader
{
    private static readonly ConditionalWeakTable<ActorSystem, DirectJournal?> Direct = new();
    private static readonly ConditionalWeakTable<ActorSystem, DirectSnapshots?> Snapshots = new();

    /// <summary>
    /// The log entries of <paramref name="persistenceId"/> from <paramref name="fromSeqNr"/> to <paramref name="toSeqNr"/>,
    /// stopping once their JSON adds up to <paramref name="maxBytes"/> (at least one is read): a replay chunk must stay
    /// well under the remoting frame size when it crosses nodes, and a read must not hold more than that.
    /// </summary>
    /// <remarks>
    /// <paramref name="wanted"/>, when given, names the seqs the caller keeps: the entries of a batch row (an
    /// <see cref="EventBatch"/>) outside it are skipped undecoded, so a read of a few events from rows of a thousand
    /// does not build the other 999.
    /// </remarks>
    public static Task<EventEnvelope[]> Read(ActorSystem system, string persistenceId, long fromSeqNr, long toSeqNr, long maxBytes = long.MaxValue,
        Func<long, bool>? wanted = null)
    {
        var direct = Direct.GetValue(system, DirectJournal.TryCreate);
        return direct is not null
            ? direct.ReadAsync(persistenceId, fromSeqNr, toSeqNr, (_, e) => e, maxBytes, wanted)
            : ReadByQuery(system, persistenceId, fromSeqNr, toSeqNr, e => (EventEnvelope)e.Event, maxBytes);
    }

    /// <summary>The same read with each event's journal sequence number (what a conversation's index records).</summary>
    public static Task<(long SequenceNr, EventEnvelope Event)[]> ReadPositioned(ActorSystem system, string persistenceId, long fromSeqNr, long toSeqNr)
    {
        var direct = Direct.GetValue(system, DirectJournal.TryCreate);
        return direct is not null
            ? direct.ReadAsync(persistenceId, fromSeqNr, toSeqNr, (n, e) => (n, e))
            : ReadByQuery(system, persistenceId, fromSeqNr, toSeqNr, e => (e.SequenceNr, (EventEnvelope)e.Event));
    }

    /// <summary>
    /// The events at these journal sequence numbers, in order: for a page of search results spread over a long log,
    /// so only its rows are read, not everything between them (the range read without the direct query).
    /// </summary>
    public static Task<EventEnvelope[]> ReadAt(ActorSystem system, string persistenceId, IReadOnlyCollection<long> seqNrs,
        Func<long, bool>? wanted = null)
    {
        var direct = Direct.GetValue(system, DirectJournal.TryCreate);
        return direct is not null
            ? direct.ReadAtAsync(persistenceId, seqNrs, wanted)
            : ReadByQuery(system, persistenceId, seqNrs.Min(), seqNrs.Max());
    }

    /// <summary>True when this system's journal is read with the direct query (for tests).</summary>
    internal static bool ReadsDirectly(ActorSystem system) => Direct.GetValue(system, DirectJournal.TryCreate) is not null;

    /// <summary>
    /// Every snapshot stored under <paramref name="persistenceId"/>, deserialised, in sequence-number order: one SQL
    /// query on the snapshot table (default table mapping, SQLite or PostgreSQL). Null when this system's snapshot
    /// store cannot be read that way (the snapshot store's API only loads the newest snapshot).
    /// </summary>
    public static Task<object[]>? ReadSnapshots(ActorSystem system, string persistenceId) =>
        Snapshots.GetValue(system, DirectSnapshots.TryCreate)?.ReadAsync(persistenceId);

    /// <summary>The same read through Akka.Persistence.Query (any journal mapping).</summary>
    public static Task<EventEnvelope[]> ReadByQuery(ActorSystem system, string persistenceId, long fromSeqNr, long toSeqNr,
        long maxBytes = long.MaxValue) =>
        ReadByQuery(system, persistenceId, fromSeqNr, toSeqNr, e => (EventEnvelope)e.Event, maxBytes);

    private static Task<T[]> ReadByQuery<T>(ActorSystem system, string persistenceId, long fromSeqNr, long toSeqNr,
        Func<Akka.Persistence.Query.EventEnvelope, T> select, long maxBytes = long.MaxValue)
    {
        var journal = PersistenceQuery.Get(system).ReadJournalFor<SqlReadJournal>(SqlReadJournal.Identifier);
        var bytes = 0L;
        return journal.CurrentEventsByPersistenceId(persistenceId, fromSeqNr, toSeqNr)
            .SelectMany(e => e.Event switch
            {
                EventEnvelope => [e],
                EventBatch b => b.Events.Select(x => new Akka.Persistence.Query.EventEnvelope(e.Offset, e.PersistenceId, e.SequenceNr, x, e.Timestamp, e.Tags)),
                _ => Enumerable.Empty<Akka.Persistence.Query.EventEnvelope>(),
            })
            .TakeWhile(e => (bytes += ((EventEnvelope)e.Event).Json.Length) - ((EventEnvelope)e.Event).Json.Length < maxBytes)
            .Select(select)
            .RunWith(Sink.Seq<T>(), system.Materializer())
            .ContinueWith(t => t.Result.ToArray(), TaskContinuationOptions.OnlyOnRanToCompletion);
    }

    private sealed class DirectJournal(ActorSystem system, Func<DbConnection> connect, string table)
    {
        private readonly Akka.Serialization.Serialization _serialization = system.Serialization;
        private readonly string _sql =
            $"SELECT sequence_number, message, identifier, manifest FROM {table} " +
            "WHERE persistence_id = @pid AND sequence_number >= @from AND sequence_number <= @to AND deleted = @deleted " +
            "ORDER BY sequence_number";

        public static DirectJournal? TryCreate(ActorSystem system)
        {
            if (Journal.DefaultTableMapping.Read(system.Settings.Config.GetConfig("akka.persistence.journal.sql"), "journal")
                is not (var connectionString, var provider, var table)) return null;
            return Connector(provider, connectionString) is { } connect ? new DirectJournal(system, connect, table) : null;
        }

        public Task<T[]> ReadAsync<T>(string persistenceId, long fromSeqNr, long toSeqNr, Func<long, EventEnvelope, T> select,
            long maxBytes = long.MaxValue, Func<long, bool>? wanted = null) =>
            QueryAsync(_sql, command =>
            {
                Add(command, "@pid", persistenceId);
                Add(command, "@from", Math.Max(1, fromSeqNr));
                Add(command, "@to", toSeqNr);
                Add(command, "@deleted", false);
            }, (int)Math.Clamp(toSeqNr - fromSeqNr + 1, 0, 4096), select, maxBytes, wanted);

        public Task<EventEnvelope[]> ReadAtAsync(string persistenceId, IReadOnlyCollection<long> seqNrs, Func<long, bool>? wanted)
        {
            var names = string.Join(", ", seqNrs.Select((_, i) => "@s" + i));
            return QueryAsync(
                $"SELECT sequence_number, message, identifier, manifest FROM {table} " +
                $"WHERE persistence_id = @pid AND sequence_number IN ({names}) AND deleted = @deleted ORDER BY sequence_number",
                command =>
                {
                    Add(command, "@pid", persistenceId);
                    Add(command, "@deleted", false);
                    var i = 0;
                    foreach (var n in seqNrs) Add(command, "@s" + i++, n);
                }, seqNrs.Count, (_, e) => e, wanted: wanted);
        }

        private async Task<T[]> QueryAsync<T>(string sql, Action<DbCommand> parameters, int expected, Func<long, EventEnvelope, T> select,
            long maxBytes = long.MaxValue, Func<long, bool>? wanted = null)
        {
            await using var connection = connect();
            await connection.OpenAsync().ConfigureAwait(false);
            await using var command = connection.CreateCommand();
            command.CommandText = sql;
            parameters(command);
            var events = new List<T>(expected);
            await using var reader = await command.ExecuteReaderAsync().ConfigureAwait(false);
            var total = 0L;
            while (total < maxBytes && await reader.ReadAsync().ConfigureAwait(false))
            {
                var bytes = (byte[])reader.GetValue(1);
                var identifier = reader.IsDBNull(2) ? 0 : Convert.ToInt32(reader.GetValue(2));
                var manifest = reader.IsDBNull(3) ? "" : reader.GetString(3);
                var sequenceNr = reader.GetInt64(0);
                var row = wanted is not null && identifier == SyncSerializer.SerializerId && manifest == SyncSerializer.BatchManifest
                    ? SyncSerializer.ReadBatch(bytes, wanted) // only the entries wanted are built
                    : _serialization.Deserialize(bytes, identifier, manifest);
                switch (row)
                {
                    case EventEnvelope e:
                        events.Add(select(sequenceNr, e));
                        total += e.Json.Length;
                        break;
                    case EventBatch batch: // a write's entries in one row: each is its own event here
                        foreach (var e in batch.Events)
                        {
                            if (total >= maxBytes) break;
                            events.Add(select(sequenceNr, e));
                            total += e.Json.Length;
                        }
                        break;
                }
            }
            return events.ToArray();
        }

    }

    /// <summary>The snapshot table, read as <see cref="DirectJournal"/> reads the journal table.</summary>
    private sealed class DirectSnapshots(ActorSystem system, Func<DbConnection> connect, string table)
    {
        private readonly Akka.Serialization.Serialization _serialization = system.Serialization;
        private readonly string _sql =
            $"SELECT snapshot, serializer_id, manifest FROM {table} WHERE persistence_id = @pid ORDER BY sequence_number";

        public static DirectSnapshots? TryCreate(ActorSystem system)
        {
            if (Journal.DefaultTableMapping.Read(system.Settings.Config.GetConfig("akka.persistence.snapshot-store.sql"), "snapshot")
                is not (var connectionString, var provider, var table)) return null;
            return Connector(provider, connectionString) is { } connect ? new DirectSnapshots(system, connect, table) : null;
        }

        public async Task<object[]> ReadAsync(string persistenceId)
        {
            await using var connection = connect();
            await connection.OpenAsync().ConfigureAwait(false);
            await using var command = connection.CreateCommand();
            command.CommandText = _sql;
            Add(command, "@pid", persistenceId);
            var snapshots = new List<object>();
            await using var reader = await command.ExecuteReaderAsync().ConfigureAwait(false);
            while (await reader.ReadAsync().ConfigureAwait(false))
            {
                var bytes = (byte[])reader.GetValue(0);
                var identifier = reader.IsDBNull(1) ? 0 : Convert.ToInt32(reader.GetValue(1));
                var manifest = reader.IsDBNull(2) ? "" : reader.GetString(2);
                snapshots.Add(_serialization.Deserialize(bytes, identifier, manifest));
            }
            return snapshots.ToArray();
        }
    }

    internal static Func<DbConnection>? Connector(string provider, string connectionString)
    {
        if (provider.StartsWith("SQLite", StringComparison.OrdinalIgnoreCase)) return () => new SqliteConnection(connectionString);
        if (provider.StartsWith("PostgreSQL", StringComparison.OrdinalIgnoreCase)) return () => new NpgsqlConnection(connectionString);
        return null;
    }

    internal static void Add(DbCommand command, string name, object value)
    {
        var p = command.CreateParameter();
        p.ParameterName = name;
        p.Value = value;
        command.Parameters.Add(p);
    }
}
