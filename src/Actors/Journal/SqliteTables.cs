using Akka.Configuration;
using Microsoft.Data.Sqlite;

namespace Akka.Sync.Actors.Journal;

/// <summary>
/// Creates Akka.Persistence.Sql's tables on SQLite for its default layout — the journal, the tag table and the snapshot
/// table with their indexes, statement for statement what the plugin's auto-initialisation creates — and turns the
/// plugin's own auto-initialisation off, so a node does not build them through linq2db at every start.
/// </summary>
/// <remarks>
/// Why: the plugin creates its tables (or checks they exist) through linq2db's SQL builder on every start; on an idle
/// node that was ~1,000 of the methods the JIT compiled and 7 MB of its memory at rest (bench/NOTES.md, "Issue 15,
/// seventh sitting"). Only the exact default layout is taken over: SQLite, the default table mapping, no schema, the
/// default table and column names, the writer-uuid column, tags in their own table, deletes in native mode, and
/// auto-initialisation on. Anything else, or a failure here, leaves table creation to the plugin as before. The
/// statements are the plugin's (compared by <c>SqliteTablesTests</c> with the schema the plugin itself creates);
/// <c>IF NOT EXISTS</c> leaves an existing database as it is.
/// </remarks>
internal static class SqliteTables
{
    private static readonly string[] JournalStatements =
    [
        "CREATE TABLE IF NOT EXISTS [journal]\n(\n\t[ordering]        INTEGER        NOT NULL PRIMARY KEY AUTOINCREMENT,\n\t[created]         INTEGER        NOT NULL,\n\t[deleted]         Bit            NOT NULL,\n\t[persistence_id]  NVarChar(255)  NOT NULL,\n\t[sequence_number] INTEGER        NOT NULL,\n\t[message]         VarBinary      NOT NULL,\n\t[manifest]        NVarChar(500)      NULL,\n\t[identifier]      INTEGER            NULL,\n\t[writer_uuid]     NVarChar(128)      NULL\n)",
        "CREATE UNIQUE INDEX IF NOT EXISTS journal_uq ON journal (persistence_id, sequence_number)",
        "CREATE INDEX IF NOT EXISTS journal_created_idx ON journal (created)",
        "CREATE INDEX IF NOT EXISTS journal_sequence_number_idx ON journal (sequence_number)",
        "CREATE TABLE IF NOT EXISTS [tags]\n(\n\t[ordering_id]    INTEGER       NOT NULL,\n\t[tag]            NVarChar(64)  NOT NULL,\n\t[sequence_nr]    INTEGER       NOT NULL,\n\t[persistence_id] NVarChar(255) NOT NULL,\n\n\tCONSTRAINT [PK_tags] PRIMARY KEY ([ordering_id], [tag])\n)",
        "CREATE INDEX IF NOT EXISTS tags_persistence_id_sequence_nr_idx ON tags (persistence_id, sequence_nr)",
        "CREATE INDEX IF NOT EXISTS tags_tag_idx ON tags (tag)",
    ];

    private static readonly string[] SnapshotStatements =
    [
        "CREATE TABLE IF NOT EXISTS [snapshot]\n(\n\t[persistence_id]  NVarChar(255) NOT NULL,\n\t[sequence_number] INTEGER       NOT NULL,\n\t[created]         INTEGER       NOT NULL,\n\t[snapshot]        VarBinary         NULL,\n\t[manifest]        NVarChar(500)     NULL,\n\t[serializer_id]   INTEGER           NULL,\n\n\tCONSTRAINT [PK_snapshot] PRIMARY KEY ([persistence_id], [sequence_number])\n)",
        "CREATE INDEX IF NOT EXISTS snapshot_sequence_number_idx ON snapshot (sequence_number)",
        "CREATE INDEX IF NOT EXISTS snapshot_created_idx ON snapshot (created)",
    ];

    private static readonly Config AutoInitializeOff = ConfigurationFactory.ParseString("auto-initialize = off");

    /// <summary>
    /// For the journal's section: creates its tables when it has the default SQLite layout and returns the section with
    /// auto-initialisation off; otherwise the section unchanged. <paramref name="failure"/> is why it was left to the plugin
    /// after trying (null when it did not try or succeeded).
    /// </summary>
    public static Config TakeOverJournal(Config section, out Exception? failure) =>
        TakeOver(section, IsDefaultJournal(section), JournalStatements, out failure);

    /// <summary>The same for the snapshot store's section.</summary>
    public static Config TakeOverSnapshots(Config section, out Exception? failure) =>
        TakeOver(section, IsDefaultSnapshotStore(section), SnapshotStatements, out failure);

    private static Config TakeOver(Config section, string? connectionString, string[] statements, out Exception? failure)
    {
        failure = null;
        if (connectionString is null) return section;
        try
        {
            using var connection = new SqliteConnection(connectionString);
            connection.Open();
            using var transaction = connection.BeginTransaction();
            using var command = connection.CreateCommand();
            command.Transaction = transaction;
            foreach (var statement in statements)
            {
                command.CommandText = statement;
                command.ExecuteNonQuery();
            }
            transaction.Commit();
            return AutoInitializeOff.WithFallback(section);
        }
        catch (SqliteException e)
        {
            failure = e;
            return section;
        }
    }

    /// <summary>The journal section's connection string when it has exactly the default SQLite layout, else null.</summary>
    private static string? IsDefaultJournal(Config section)
    {
        if (Common(section, "journal") is not { } connectionString) return null;
        if (!section.GetBoolean("default.journal.use-writer-uuid-column", true) || section.GetBoolean("delete-compatibility-mode", false)) return null;
        if (!section.GetString("tag-write-mode", "TagTable").Equals("TagTable", StringComparison.OrdinalIgnoreCase)) return null;
        if (section.GetString("default.tag.table-name", "tags") != "tags") return null;
        return DefaultTableMapping.HasDefaultColumns(section, "default.journal.columns", DefaultTableMapping.JournalColumns)
               && DefaultTableMapping.HasDefaultColumns(section, "default.tag.columns", ["ordering-id", "persistence-id", "sequence-nr"])
               && section.GetString("default.tag.columns.tag-value", "tag") == "tag"
            ? connectionString
            : null;
    }

    private static string? IsDefaultSnapshotStore(Config section) =>
        Common(section, "snapshot") is { } connectionString
        && DefaultTableMapping.HasDefaultColumns(section, "default.snapshot.columns", DefaultTableMapping.SnapshotColumns)
            ? connectionString
            : null;

    private static string? Common(Config section, string table)
    {
        if (DefaultTableMapping.Read(section, table) is not (var connectionString, var provider, var name)) return null;
        if (!provider.StartsWith("SQLite", StringComparison.OrdinalIgnoreCase) || name != table) return null;
        return section.GetBoolean("auto-initialize", true) ? connectionString : null;
    }
}
