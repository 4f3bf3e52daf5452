using Akka.Actor;
using Akka.Cluster.Hosting;
using Akka.Event;
using Akka.Hosting;
using Akka.Persistence;
using Akka.Sync.Protocol;
using static Akka.Sync.Protocol.DirectoryQueries;

namespace Akka.Sync.Actors.Conversations;

/// <summary>
/// A cluster singleton that remembers every conversation's summary (persisted), so search and count
/// need not wake every entity. Summaries follow the entities: creation, title, status, deletion.
/// </summary>
/// <remarks>
/// An entity tells its summary once its own event is durable, so the directory serves a summary as soon as it arrives
/// and persists it behind (<c>PersistAsync</c>): summaries that arrive while a write is in flight go to the journal
/// together, in one commit, and a search never waits for the directory's writes. One write at a time (<c>Persist</c>,
/// with the commands behind it stashed) made the directory one commit per conversation created: 2,000 conversations
/// created in a second kept it writing for more than a second after (bench/NOTES.md, "Issue 15, eleventh sitting").
/// A snapshot holds every entry, so it is taken once the upserts since the last one reach half the directory's size
/// (at least <c>snapshotEvery</c>): saving and recovery stay linear in the directory's size, not quadratic.
/// </remarks>
public sealed class ConversationDirectory : ReceivePersistentActor
{
    private readonly Dictionary<ConversationId, ConversationInfo> _entries = [];
    private readonly int _snapshotEvery;
    private readonly ILoggingAdapter _log = Context.GetLogger();
    private long _sinceSnapshot;

    public ConversationDirectory(int snapshotEvery = 1000)
    {
        _snapshotEvery = snapshotEvery;
        Recover<SnapshotOffer>(o =>
        {
            if (o.Snapshot is DirectorySnapshot s)
                foreach (var e in s.Entries) _entries[e.ConversationId] = e;
        });
        Recover<DirectoryCommands.Upsert>(u =>
        {
            Apply(u);
            _sinceSnapshot++;
        });

        Command<DirectoryCommands.Upsert>(u =>
        {
            var unchanged = _entries.TryGetValue(u.Info.ConversationId, out var existing) && !u.Deleted
                && existing with { EventCount = 0 } == u.Info with { EventCount = 0 };
            if (unchanged) return;
            var entry = u with { Info = u.Info with { EventCount = 0 } };
            Apply(entry);
            PersistAsync(entry, _ =>
            {
                // The entries may be ahead of this event (upserts still in flight): a snapshot then holds them too, and
                // recovery replays them over it, each an absolute set or removal, to the same entries.
                if (++_sinceSnapshot < SnapshotDue) return;
                _sinceSnapshot = 0;
                SaveSnapshot(new DirectorySnapshot(_entries.Values.ToArray()));
            });
        });
        Command<Search>(q => Sender.Tell(Search(q)));
        Command<Followed>(_ => Sender.Tell(new FollowedResult(_entries.Values.Where(e => e.Upstream is not null).Select(e => e.ConversationId).ToArray())));
        // Unfiltered (the REST count without a status, and SingletonWatch's query every 30 s): the table's own count.
        Command<Count>(q => Sender.Tell(new CountResult(q.Status is null ? _entries.Count : _entries.Values.LongCount(e => e.Status == q.Status))));
        Command<SaveSnapshotSuccess>(s => DeleteSnapshots(new SnapshotSelectionCriteria(s.Metadata.SequenceNr - 1)));
        Command<SaveSnapshotFailure>(f => _log.Warning(f.Cause, "Directory snapshot failed"));
        Command<DeleteSnapshotsSuccess>(_ => { });
        Command<DeleteSnapshotsFailure>(_ => { });
    }

    /// <summary>Upserts between snapshots: half the directory, at least the configured number.</summary>
    private long SnapshotDue => Math.Max(_snapshotEvery, _entries.Count / 2);

    public override string PersistenceId => "conversation-directory";

    private void Apply(DirectoryCommands.Upsert u)
    {
        if (u.Deleted) _entries.Remove(u.Info.ConversationId);
        else _entries[u.Info.ConversationId] = u.Info;
    }

    private Page Search(Search q)
    {
        var matches = _entries.Values.Where(e => q.Status is null || e.Status == q.Status);
        var ordered = (q.Sort switch
        {
            ConversationSort.CreatedAtDesc => matches.OrderByDescending(e => e.CreatedTicks),
            ConversationSort.UpdatedAt => matches.OrderBy(e => e.UpdatedTicks),
            ConversationSort.UpdatedAtDesc => matches.OrderByDescending(e => e.UpdatedTicks),
            _ => matches.OrderBy(e => e.CreatedTicks),
        }).ThenBy(e => e.ConversationId.Hex, StringComparer.Ordinal).ToList();
        var start = 0;
        if (q.PageId is not null)
        {
            start = ordered.FindIndex(e => e.ConversationId.Hex == q.PageId);
            if (start < 0) return new Page(ResultCode.BadRequest, [], null);
        }
        var items = ordered.Skip(start).Take(q.Limit).ToArray();
        var next = start + q.Limit < ordered.Count ? ordered[start + q.Limit].ConversationId.Hex : null;
        return new Page(ResultCode.Ok, items, next);
    }
}

public sealed record DirectorySnapshot(ConversationInfo[] Entries) : ISyncMessage;

/// <summary>Registry key of the directory singleton's proxy.</summary>
public sealed class ConversationDirectoryKey;

public static class ConversationDirectoryHosting
{
    public static AkkaConfigurationBuilder AddConversationDirectory(this AkkaConfigurationBuilder builder) =>
        builder.WithSingleton<ConversationDirectoryKey>("conversation-directory",
            Props.Create(() => new ConversationDirectory(1000)),
            new ClusterSingletonOptions { Role = ConversationHosting.Role },
            createProxyToo: true);
}
