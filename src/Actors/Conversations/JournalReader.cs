using System.Data.Common;
using System.Runtime.CompilerServices;
using Akka.Actor;
using Akka.Persistence.Query;
using Akka.Persistence.Sql.Query;
using Akka.Streams;
using Akka.Streams.Dsl;
using Microsoft.Data.Sqlite;
using Npgsql;
using EventEnvelope = Akka.Sync.Protocol.EventEnvelope;

namespace Akka.Sync.Actors.Conversations;

/// <summary>
/// Reads stored events older than a conversation's in-memory tail, from the journal. Used by the conversation
/// actor only (replay chunks, search pages).
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

    /// <summary>
    /// The log entries of <paramref name="persistenceId"/> from <paramref name="fromSeqNr"/> to <paramref name="toSeqNr"/>,
    /// stopping once their JSON adds up to <paramref name="maxBytes"/> (at least one is read): a replay chunk must stay
    /// well under the remoting frame size when it crosses nodes, and a read must not hold more than that.
    /// </summary>
    public static Task<EventEnvelope[]> Read(ActorSystem system, string persistenceId, long fromSeqNr, long toSeqNr, long maxBytes = long.MaxValue)
    {
        var direct = Direct.GetValue(system, DirectJournal.TryCreate);
        return direct is not null
            ? direct.ReadAsync(persistenceId, fromSeqNr, toSeqNr, maxBytes)
            : ReadByQuery(system, persistenceId, fromSeqNr, toSeqNr, maxBytes);
    }

    /// <summary>True when this system's journal is read with the direct query (for tests).</summary>
    internal static bool ReadsDirectly(ActorSystem system) => Direct.GetValue(system, DirectJournal.TryCreate) is not null;

    /// <summary>The same read through Akka.Persistence.Query (any journal mapping).</summary>
    public static Task<EventEnvelope[]> ReadByQuery(ActorSystem system, string persistenceId, long fromSeqNr, long toSeqNr,
        long maxBytes = long.MaxValue)
    {
        var journal = PersistenceQuery.Get(system).ReadJournalFor<SqlReadJournal>(SqlReadJournal.Identifier);
        var bytes = 0L;
        return journal.CurrentEventsByPersistenceId(persistenceId, fromSeqNr, toSeqNr)
            .Select(e => e.Event)
            .Where(e => e is EventEnvelope)
            .Select(e => (EventEnvelope)e)
            .TakeWhile(e => (bytes += e.Json.Length) - e.Json.Length < maxBytes)
            .RunWith(Sink.Seq<EventEnvelope>(), system.Materializer())
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
            var config = system.Settings.Config.GetConfig("akka.persistence.journal.sql");
            if (config is null || config.IsEmpty || config.GetString("table-mapping", "default") != "default") return null;
            var connectionString = config.GetString("connection-string", "");
            var provider = config.GetString("provider-name", "");
            if (string.IsNullOrEmpty(connectionString)) return null;
            var schema = config.GetString("default.schema-name", null);
            var table = config.GetString("default.journal.table-name", "journal");
            if (!string.IsNullOrEmpty(schema) && schema != "null") table = $"{schema}.{table}";
            if (provider.StartsWith("SQLite", StringComparison.OrdinalIgnoreCase))
                return new DirectJournal(system, () => new SqliteConnection(connectionString), table);
            if (provider.StartsWith("PostgreSQL", StringComparison.OrdinalIgnoreCase))
                return new DirectJournal(system, () => new NpgsqlConnection(connectionString), table);
            return null;
        }

        public async Task<EventEnvelope[]> ReadAsync(string persistenceId, long fromSeqNr, long toSeqNr, long maxBytes)
        {
            await using var connection = connect();
            await connection.OpenAsync().ConfigureAwait(false);
            await using var command = connection.CreateCommand();
            command.CommandText = _sql;
            Add(command, "@pid", persistenceId);
            Add(command, "@from", Math.Max(1, fromSeqNr));
            Add(command, "@to", toSeqNr);
            Add(command, "@deleted", false);
            var events = new List<EventEnvelope>((int)Math.Clamp(toSeqNr - fromSeqNr + 1, 0, 4096));
            await using var reader = await command.ExecuteReaderAsync().ConfigureAwait(false);
            var total = 0L;
            while (total < maxBytes && await reader.ReadAsync().ConfigureAwait(false))
            {
                var bytes = (byte[])reader.GetValue(1);
                var identifier = reader.IsDBNull(2) ? 0 : Convert.ToInt32(reader.GetValue(2));
                var manifest = reader.IsDBNull(3) ? "" : reader.GetString(3);
                if (_serialization.Deserialize(bytes, identifier, manifest) is not EventEnvelope e) continue;
                events.Add(e);
                total += e.Json.Length;
            }
            return events.ToArray();
        }

        private static void Add(DbCommand command, string name, object value)
        {
            var p = command.CreateParameter();
            p.ParameterName = name;
            p.Value = value;
            command.Parameters.Add(p);
        }
    }
}
