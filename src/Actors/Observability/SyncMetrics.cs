using System.Diagnostics.Metrics;

namespace Akka.Sync.Actors.Observability;

/// <summary>
/// The server's own instruments (System.Diagnostics.Metrics, meter <c>Akka.Sync</c>), exported by the Gateway through
/// OpenTelemetry to Prometheus at <c>/metrics</c>. Static so actors and the Gateway record without plumbing.
/// </summary>
public static class SyncMetrics
{
    public const string MeterName = "Akka.Sync";
    private static readonly Meter Meter = new(MeterName);

    public static readonly UpDownCounter<long> SocketsOpen =
        Meter.CreateUpDownCounter<long>("akka_sync.sockets.open", "{socket}", "Open client sockets, by dialect");

    public static readonly UpDownCounter<long> ConversationsActive =
        Meter.CreateUpDownCounter<long>("akka_sync.conversations.active", "{conversation}", "Conversation entities alive on this node");

    public static readonly Counter<long> EventsAppended =
        Meter.CreateCounter<long>("akka_sync.events.appended", "{event}", "Events durably appended to conversation logs");

    public static readonly Counter<long> FramesSent =
        Meter.CreateCounter<long>("akka_sync.frames.sent", "{frame}", "WebSocket frames written to clients");

    public static readonly Counter<long> RemotePublishesReceived =
        Meter.CreateCounter<long>("akka_sync.publishes.remote_received", "{message}",
            "Publish messages (one per durable write per subscriber) received from a conversation hosted on another node");

    public static readonly UpDownCounter<long> RelaysActive =
        Meter.CreateUpDownCounter<long>("akka_sync.relays.active", "{relay}", "Node relays (one per conversation with sockets on this node)");

    /// <summary>Latency buckets in seconds, from half a millisecond to ten seconds.</summary>
    private static readonly InstrumentAdvice<double> Seconds = new()
    {
        HistogramBucketBoundaries = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    };

    public static readonly Histogram<double> ReplayDuration =
        Meter.CreateHistogram("akka_sync.replay.duration", "s", "From subscription to the end of a socket's replay", tags: null, advice: Seconds);

    public static readonly Counter<long> SlowConsumerCloses =
        Meter.CreateCounter<long>("akka_sync.slow_consumer.closes", "{socket}", "Sockets closed for not reading (1013)");

    public static readonly Counter<long> AuthFailures =
        Meter.CreateCounter<long>("akka_sync.auth.failures", "{request}", "Requests and sockets refused for a missing or wrong key");

    /// <summary>
    /// Puts every gauge and counter on the scrape at 0 for each of its label values, so a dashboard sees a series before
    /// the first socket, event or failure (an instrument is exported only once something was recorded on it).
    /// </summary>
    public static void StartAtZero()
    {
        foreach (var dialect in new[] { "v1", "v0" })
        {
            var tag = new KeyValuePair<string, object?>("dialect", dialect);
            SocketsOpen.Add(0, tag);
            EventsAppended.Add(0, tag);
            FramesSent.Add(0, tag);
        }
        ConversationsActive.Add(0);
        SlowConsumerCloses.Add(0);
        RemotePublishesReceived.Add(0);
        RelaysActive.Add(0);
        UpstreamReconnects.Add(0);
        UpstreamEvents.Add(0);
        foreach (var surface in new[] { "rest", "v1_socket", "socketio" })
            AuthFailures.Add(0, new KeyValuePair<string, object?>("surface", surface));
    }

    public static readonly Counter<long> UpstreamReconnects =
        Meter.CreateCounter<long>("akka_sync.upstream.reconnects", "{reconnect}", "Upstream agent-server links lost (or refused) and retried");

    public static readonly Counter<long> UpstreamEvents =
        Meter.CreateCounter<long>("akka_sync.upstream.events", "{event}", "Events stored from upstream agent servers by their followers");

    /// <summary>The followers running on this node, by whether their link is connected (subscribed upstream).</summary>
    public static readonly ObservableGauge<long> UpstreamLinks = Meter.CreateObservableGauge("akka_sync.upstream.links", () =>
    {
        var connected = Following.LinkStatus.Active.Keys.Count(l => l.IsConnected);
        return new[]
        {
            new Measurement<long>(connected, new KeyValuePair<string, object?>("connected", "true")),
            new Measurement<long>(Following.LinkStatus.Active.Count - connected, new KeyValuePair<string, object?>("connected", "false")),
        };
    }, "{link}", "Upstream agent-server links of the followers on this node, by connected");

    public static readonly ObservableGauge<long> UpstreamLagEvents = Meter.CreateObservableGauge("akka_sync.upstream.lag.events",
        () => Following.LinkStatus.Active.Keys.Sum(l => l.LagEvents), "{event}", "Upstream events received and not yet stored, summed over this node's links");

    public static readonly ObservableGauge<double> UpstreamLag = Meter.CreateObservableGauge("akka_sync.upstream.lag",
        () => Following.LinkStatus.Active.Keys.Select(l => l.LagSeconds).DefaultIfEmpty(0).Max(), "s",
        "The largest lag of this node's upstream links: how long received events have waited, or how long a link has been down");

    public static readonly Histogram<double> JournalWriteLatency =
        Meter.CreateHistogram("akka_sync.journal.write.latency", "s", "From a conversation's persist call to the write being durable", tags: null, advice: Seconds);
}
