using Akka.Configuration;

namespace Akka.Sync.Actors.Journal;

/// <summary>
/// Where an Akka.Persistence.Sql plugin section with the default table mapping keeps its rows: its connection string,
/// provider name and table (schema-qualified when a schema is set). The direct journal and snapshot reads
/// (<see cref="Conversations.JournalReader"/>) and the journal's writer (<see cref="JournalRowWriter"/>) use it; any
/// other mapping, or a section without a connection string, is null (the plugin's own paths handle those).
/// </summary>
internal static class DefaultTableMapping
{
    /// <param name="section">The plugin's section (e.g. <c>akka.persistence.journal.sql</c>).</param>
    /// <param name="table">The table's key under <c>default</c> (<c>journal</c>, <c>snapshot</c>).</param>
    public static (string ConnectionString, string Provider, string Table)? Read(Config? section, string table)
    {
        if (section is null || section.IsEmpty || section.GetString("table-mapping", "default") != "default") return null;
        var connectionString = section.GetString("connection-string", "");
        if (string.IsNullOrEmpty(connectionString)) return null;
        var schema = section.GetString("default.schema-name", null);
        var name = section.GetString($"default.{table}.table-name", table);
        return (connectionString, section.GetString("provider-name", ""),
            !string.IsNullOrEmpty(schema) && schema != "null" ? $"{schema}.{name}" : name);
    }

    /// <summary>The journal's columns the direct paths read and write (the plugin's keys under <c>default.journal.columns</c>).</summary>
    public static readonly string[] JournalColumns =
        ["ordering", "deleted", "persistence-id", "sequence-number", "created", "message", "identifier", "manifest", "writer-uuid"];

    /// <summary>The snapshot table's columns (keys under <c>default.snapshot.columns</c>).</summary>
    public static readonly string[] SnapshotColumns = ["persistence-id", "sequence-number", "created", "snapshot", "manifest", "serializer-id"];

    /// <summary>True when every column key under <paramref name="path"/> keeps its default name (the key with '-' as '_').</summary>
    public static bool HasDefaultColumns(Config section, string path, IEnumerable<string> columns) =>
        columns.All(c => section.GetString($"{path}.{c}", c.Replace('-', '_')) == c.Replace('-', '_'));
}
