using System.Data.Common;
using System.Runtime.CompilerServices;
using Akka.Actor;
using Akka.Configuration;
using Akka.Persistence;

namespace Akka.Sync.Actors.Journal;

/// <summary>
/// Recovery's reads — a persistence id's highest sequence number, its events in order, its newest snapshot — as plain
/// SQL on the tables Akka.Persistence.Sql keeps, with the plugin's exact semantics, for its default table mapping on
/// SQLite and PostgreSQL. <see cref="GroupCommitJournal"/> and <see cref="DirectSnapshotStore"/> use it; any other
/// mapping, provider or column layout keeps the plugin's linq2db queries.
/// </summary>
/// <remarks>
/// Why: every recovery (each conversation's first touch, and at start-up the directory's and the preferences') went
/// through linq2db's query translation. On a node at rest that was over 2,000 of the ~15,000 methods the JIT compiled,
/// and the type data they load: the biggest single piece of an idle node's memory (bench/NOTES.md, "Issue 15, seventh
/// sitting"). Rows are read with one statement each and handed to the recovery callback as they arrive, where the
/// plugin first collected a persistence id's whole replay in a list.
/// </remarks>
internal sealed class DirectRecovery
{
    private readonly Func<DbConnection> _connect;
    private readonly Akka.Serialization.Serialization _serialization;
    private readonly string? _defaultSerializer;
    private readonly string _highest;
    private readonly string _highestFrom;
    private readonly string _replay;

    private DirectRecovery(Func<DbConnection> connect, string table, Akka.Serialization.Serialization serialization, string? defaultSerializer)
    {
        _connect = connect;
        _system = serialization.System;
        _serialization = serialization;
        _defaultSerializer = defaultSerializer;
        _highest = $"SELECT MAX(sequence_number) FROM {table} WHERE persistence_id = @pid";
        _highestFrom = _highest + " AND sequence_number > @from";
        _replay = $"SELECT sequence_number, message, identifier, manifest, writer_uuid, created FROM {table} " +
                  "WHERE persistence_id = @pid AND sequence_number >= @from AND sequence_number <= @to AND deleted = @deleted " +
                  "ORDER BY sequence_number";
    }

    /// <summary>Reads (highest sequence numbers, replays, snapshot loads) made this way in a system (for tests: which path recovery took).</summary>
    internal static long ReadsIn(ActorSystem system) => Counters.TryGetValue(system, out var c) ? Interlocked.Read(ref c.Value) : 0;

    internal static void Count(ActorSystem system) => Interlocked.Increment(ref Counters.GetValue(system, _ => new StrongBox<long>()).Value);

    private static readonly ConditionalWeakTable<ActorSystem, StrongBox<long>> Counters = new();
    private readonly ActorSystem _system;

    /// <summary>
    /// The journal's reads, or null unless the journal section has the default table mapping with the default columns
    /// and the writer-uuid column on SQLite or PostgreSQL, and deletes in native mode (no metadata table to consult).
    /// </summary>
    public static DirectRecovery? ForJournal(Config journal, ActorSystem system, string? defaultSerializer)
    {
        if (DefaultTableMapping.Read(journal, "journal") is not (var connectionString, var provider, var table)) return null;
        if (journal.GetBoolean("delete-compatibility-mode", false) || !journal.GetBoolean("default.journal.use-writer-uuid-column", true)) return null;
        if (!DefaultTableMapping.HasDefaultColumns(journal, "default.journal.columns", DefaultTableMapping.JournalColumns)) return null;
        return Conversations.JournalReader.Connector(provider, connectionString) is { } connect
            ? new DirectRecovery(connect, table, system.Serialization, defaultSerializer)
            : null;
    }

    /// <summary>As the plugin: the highest sequence number stored (above <paramref name="fromSequenceNr"/> when not 0), or 0.</summary>
    public async Task<long> HighestSequenceNrAsync(string persistenceId, long fromSequenceNr, CancellationToken cancellationToken)
    {
        await using var connection = _connect();
        await connection.OpenAsync(cancellationToken).ConfigureAwait(false);
        await using var command = connection.CreateCommand();
        command.CommandText = fromSequenceNr != 0 ? _highestFrom : _highest;
        Add(command, "@pid", persistenceId);
        if (fromSequenceNr != 0) Add(command, "@from", fromSequenceNr);
        var max = await command.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false);
        Count(_system);
        return max is null or DBNull ? 0 : Convert.ToInt64(max, System.Globalization.CultureInfo.InvariantCulture);
    }

    /// <summary>
    /// As the plugin: the rows not marked deleted from <paramref name="fromSequenceNr"/> to <paramref name="toSequenceNr"/>
    /// in order, at most <paramref name="max"/>, each deserialised with the serializer its row names and passed on as it
    /// is read.
    /// </summary>
    public async Task ReplayAsync(string persistenceId, long fromSequenceNr, long toSequenceNr, long max,
        Action<IPersistentRepresentation> recoveryCallback, CancellationToken cancellationToken)
    {
        if (max <= 0) return;
        await using var connection = _connect();
        await connection.OpenAsync(cancellationToken).ConfigureAwait(false);
        await using var command = connection.CreateCommand();
        command.CommandText = max <= int.MaxValue ? _replay + " LIMIT @max" : _replay;
        Add(command, "@pid", persistenceId);
        Add(command, "@from", fromSequenceNr);
        Add(command, "@to", toSequenceNr);
        Add(command, "@deleted", false);
        if (max <= int.MaxValue) Add(command, "@max", max);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            var sequenceNr = reader.GetInt64(0);
            var bytes = (byte[])reader.GetValue(1);
            var manifest = reader.IsDBNull(3) ? "" : reader.GetString(3);
            var payload = Payload(_serialization, bytes, reader.IsDBNull(2) ? null : reader.GetValue(2), manifest, _defaultSerializer);
            recoveryCallback(new Persistent(payload, sequenceNr, persistenceId, manifest, false, ActorRefs.NoSender,
                reader.IsDBNull(4) ? null : reader.GetString(4), reader.GetInt64(5)));
        }
        Count(_system);
    }

    /// <summary>
    /// A row's payload as the plugin reads it: with the serializer its row names, or — no serializer id stored — the one
    /// bound to the type its manifest names.
    /// </summary>
    internal static object Payload(Akka.Serialization.Serialization serialization, byte[] bytes, object? serializerId, string manifest,
        string? defaultSerializer)
    {
        if (serializerId is not null)
            return serialization.Deserialize(bytes, Convert.ToInt32(serializerId, System.Globalization.CultureInfo.InvariantCulture), manifest);
        var type = Type.GetType(manifest, true)!;
        var serializer = serialization.FindSerializerForType(type, defaultSerializer);
        return Akka.Serialization.Serialization.WithTransport(serialization.System, () => serializer.FromBinary(bytes, type));
    }

    private static void Add(DbCommand command, string name, object value) => Conversations.JournalReader.Add(command, name, value);
}
