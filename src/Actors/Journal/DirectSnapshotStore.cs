using System.Data.Common;
using Akka.Configuration;
using Akka.Event;
using Akka.Persistence;
using Akka.Persistence.Sql.Snapshot;

namespace Akka.Sync.Actors.Journal;

/// <summary>
/// Akka.Persistence.Sql's snapshot store with its load — what every recovery asks first — as one plain SQL query on the
/// same table and rows, for the default table mapping and columns on SQLite and PostgreSQL (<see cref="DirectRecovery"/>
/// says why); on SQLite its table is created directly (<see cref="SqliteTables"/>). Saving and deleting, and any other
/// mapping or provider, stay the plugin's.
/// </summary>
public sealed class DirectSnapshotStore : SqlSnapshotStore
{
    /// <summary>The HOCON that makes Akka.Persistence.Sql's snapshot store this one.</summary>
    public const string Hocon = "akka.persistence.snapshot-store.sql.class = \"Akka.Sync.Actors.Journal.DirectSnapshotStore, Akka.Sync.Actors\"";

    private readonly Func<DbConnection>? _connect;
    private readonly Akka.Serialization.Serialization _serialization;
    private readonly string? _defaultSerializer;
    private readonly string _table = "";

    public DirectSnapshotStore(Config snapshotConfig) : base(SqliteTables.TakeOverSnapshots(snapshotConfig, out var tablesFailure))
    {
        if (tablesFailure is not null)
            Context.GetLogger().Warning(tablesFailure, "Could not create the snapshot store's SQLite table directly; Akka.Persistence.Sql creates it");
        _serialization = Context.System.Serialization;
        var serializer = snapshotConfig.GetString("serializer", null);
        _defaultSerializer = string.IsNullOrEmpty(serializer) || serializer == "null" ? null : serializer;
        if (DefaultTableMapping.Read(snapshotConfig, "snapshot") is not (var connectionString, var provider, var table)) return;
        if (!DefaultTableMapping.HasDefaultColumns(snapshotConfig, "default.snapshot.columns", DefaultTableMapping.SnapshotColumns)) return;
        // SQLite and PostgreSQL only (the plugin keeps "created" as ticks there; SQL Server's is a datetime).
        _connect = Conversations.JournalReader.Connector(provider, connectionString);
        _table = table;
    }

    /// <summary>
    /// As the plugin: the newest snapshot (highest sequence number) at or below the criteria's maximum sequence number and
    /// timestamp (the plugin does not apply the minimums either).
    /// </summary>
    protected override async Task<SelectedSnapshot?> LoadAsync(string persistenceId, SnapshotSelectionCriteria criteria, CancellationToken cancellationToken)
    {
        if (_connect is null) return await base.LoadAsync(persistenceId, criteria, cancellationToken).ConfigureAwait(false);
        await using var connection = _connect();
        await connection.OpenAsync(cancellationToken).ConfigureAwait(false);
        await using var command = connection.CreateCommand();
        var sql = $"SELECT sequence_number, created, snapshot, serializer_id, manifest FROM {_table} WHERE persistence_id = @pid";
        Conversations.JournalReader.Add(command, "@pid", persistenceId);
        if (criteria.MaxSequenceNr != long.MaxValue)
        {
            sql += " AND sequence_number <= @seq";
            Conversations.JournalReader.Add(command, "@seq", criteria.MaxSequenceNr);
        }
        if (criteria.MaxTimeStamp != DateTime.MaxValue)
        {
            sql += " AND created <= @created";
            Conversations.JournalReader.Add(command, "@created", criteria.MaxTimeStamp.Ticks);
        }
        command.CommandText = sql + " ORDER BY sequence_number DESC LIMIT 1";
        await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        if (!await reader.ReadAsync(cancellationToken).ConfigureAwait(false)) return null;
        var bytes = (byte[])reader.GetValue(2);
        var manifest = reader.IsDBNull(4) ? "" : reader.GetString(4);
        var snapshot = DirectRecovery.Payload(_serialization, bytes, reader.IsDBNull(3) ? null : reader.GetValue(3), manifest, _defaultSerializer);
        DirectRecovery.Count(_serialization.System);
        return new SelectedSnapshot(new SnapshotMetadata(persistenceId, reader.GetInt64(0), new DateTime(reader.GetInt64(1))), snapshot);
    }
}
