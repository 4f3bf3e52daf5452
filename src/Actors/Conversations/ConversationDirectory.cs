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
public sealed class ConversationDirectory : ReceivePersistentActor
{
    private readonly Dictionary<ConversationId, ConversationInfo> _entries = [];
    private readonly int _snapshotEvery;
    private readonly ILoggingAdapter _log = Context.GetLogger();

    public ConversationDirectory(int snapshotEvery = 1000)
    {
        _snapshotEvery = snapshotEvery;
        Recover<SnapshotOffer>(o =>
        {
            if (o.Snapshot is DirectorySnapshot s)
                foreach (var e in s.Entries) _entries[e.ConversationId] = e;
        });
        Recover<DirectoryCommands.Upsert>(Apply);

        Command<DirectoryCommands.Upsert>(u =>
        {
            var unchanged = _entries.TryGetValue(u.Info.ConversationId, out var existing) && !u.Deleted
                && existing with { EventCount = 0 } == u.Info with { EventCount = 0 };
            if (unchanged) return;
            Persist(u with { Info = u.Info with { EventCount = 0 } }, e =>
            {
                Apply(e);
                if (LastSequenceNr % _snapshotEvery == 0)
                    SaveSnapshot(new DirectorySnapshot(_entries.Values.ToArray()));
            });
        });
        Command<Search>(q => Sender.Tell(Search(q)));
        Command<Followed>(_ => Sender.Tell(new FollowedResult(_entries.Values.Where(e => e.Upstream is not null).Select(e => e.ConversationId).ToArray())));
        Command<Count>(q => Sender.Tell(new CountResult(_entries.Values.LongCount(e => q.Status is null || e.Status == q.Status))));
        Command<SaveSnapshotSuccess>(s => DeleteSnapshots(new SnapshotSelectionCriteria(s.Metadata.SequenceNr - 1)));
        Command<SaveSnapshotFailure>(f => _log.Warning(f.Cause, "Directory snapshot failed"));
        Command<DeleteSnapshotsSuccess>(_ => { });
        Command<DeleteSnapshotsFailure>(_ => { });
    }

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
