namespace Akka.Sync.Actors.Journal;

/// <summary>
/// Akka.Persistence.Sql reads (recovery's replay and highest sequence number, snapshot loads, the query side) inside a
/// transaction at its <c>read-isolation-level</c>. On SQLite, Microsoft.Data.Sqlite begins every transaction but a
/// read-uncommitted one with <c>BEGIN IMMEDIATE</c>, which takes the database's single write lock: each recovering
/// conversation then queued behind the journal's writer for a lock it never needed, and a reader or writer that found
/// the lock taken slept 150 ms (Microsoft.Data.Sqlite's busy retry) before trying again — under concurrent creates half
/// of all writes waited 100–250 ms (bench/NOTES.md, "SQLite reads took the write lock").
/// </summary>
/// <remarks>
/// Read-uncommitted makes the transaction deferred (<c>BEGIN</c>): in WAL mode it reads the last committed snapshot and
/// takes no write lock. SQLite's <c>read_uncommitted</c> pragma that it also sets only matters between connections
/// sharing one cache; Akka.Sync's connections have private caches, so no read sees an uncommitted row.
/// </remarks>
public static class SqliteReads
{
    public const string Hocon = """
        akka.persistence.journal.sql.read-isolation-level = read-uncommitted
        akka.persistence.query.journal.sql.read-isolation-level = read-uncommitted
        akka.persistence.snapshot-store.sql.read-isolation-level = read-uncommitted
        """;
}
