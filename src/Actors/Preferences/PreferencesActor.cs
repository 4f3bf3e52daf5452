using System.Text;
using System.Text.Json.Nodes;
using Akka.Actor;
using Akka.Cluster.Hosting;
using Akka.Event;
using Akka.Hosting;
using Akka.Persistence;
using Akka.Sync.Actors.Conversations;
using Akka.Sync.Protocol;

namespace Akka.Sync.Actors.Preferences;

/// <summary>
/// A cluster singleton that keeps the browser clients' preferences (<see cref="ClientPreferences"/>): every merge
/// persists the whole new document, so recovery only needs the newest one (older ones are snapshotted away).
/// </summary>
public sealed class PreferencesActor : ReceivePersistentActor
{
    private const int SnapshotEvery = 100;
    private string _json = "{}";
    private readonly ILoggingAdapter _log = Context.GetLogger();

    public PreferencesActor()
    {
        Recover<SnapshotOffer>(o => { if (o.Snapshot is ClientPreferences.Document d) _json = d.Json; });
        Recover<ClientPreferences.Document>(d => _json = d.Json);

        Command<ClientPreferences.Get>(_ => Sender.Tell(new ClientPreferences.Document(_json)));
        Command<ClientPreferences.Merge>(OnMerge);
        Command<SaveSnapshotSuccess>(s => DeleteMessages(s.Metadata.SequenceNr));
        Command<SaveSnapshotFailure>(f => _log.Warning(f.Cause, "Preferences snapshot failed"));
        Command<DeleteMessagesSuccess>(_ => { });
        Command<DeleteMessagesFailure>(_ => { });
    }

    public override string PersistenceId => "client-preferences";

    private void OnMerge(ClientPreferences.Merge m)
    {
        var merged = JsonMergePatch.Apply(JsonNode.Parse(_json), JsonNode.Parse(m.PatchJson))?.ToJsonString() ?? "{}";
        var bytes = Encoding.UTF8.GetByteCount(merged);
        if (bytes > ClientPreferences.MaxBytes)
        {
            Sender.Tell(new ClientPreferences.TooLarge(bytes));
            return;
        }
        if (merged == _json)
        {
            Sender.Tell(new ClientPreferences.Document(_json));
            return;
        }
        var replyTo = Sender;
        Persist(new ClientPreferences.Document(merged), d =>
        {
            _json = d.Json;
            replyTo.Tell(d);
            if (LastSequenceNr % SnapshotEvery == 0) SaveSnapshot(d);
        });
    }

    protected override void OnPersistFailure(Exception cause, object @event, long sequenceNr)
    {
        _log.Error(cause, "Preferences write failed; the singleton restarts from the journal");
        base.OnPersistFailure(cause, @event, sequenceNr);
    }
}

/// <summary>Registry key of the preferences singleton's proxy.</summary>
public sealed class PreferencesKey;

public static class PreferencesHosting
{
    public static AkkaConfigurationBuilder AddClientPreferences(this AkkaConfigurationBuilder builder) =>
        builder.WithSingleton<PreferencesKey>("client-preferences",
            Props.Create(() => new PreferencesActor()),
            new ClusterSingletonOptions { Role = ConversationHosting.Role },
            createProxyToo: true);
}
