using System.Diagnostics;
using System.Net.Http.Json;

namespace Akka.Sync.Cluster.Tests.Support;

/// <summary>
/// Measures when a conversation takes writes, independently of any one client's timeout and retry policy: it sends a
/// one-event write every <c>interval</c> without waiting for the previous one (each attempt has a fresh event id), and
/// records when each was sent and whether and when it was acknowledged. "Writes accepted again after t" is the earliest
/// acknowledgement of an attempt sent after t. Bounded: it stops after <c>limit</c> or when stopped.
/// </summary>
public sealed class AvailabilityProbe : IAsyncDisposable
{
    private readonly Stopwatch _clock = Stopwatch.StartNew();
    private readonly List<(TimeSpan Sent, TimeSpan? Acked)> _attempts = [];
    private readonly List<Task> _inFlight = [];
    private readonly CancellationTokenSource _stop = new();
    private Task _loop = Task.CompletedTask;

    public TimeSpan Now => _clock.Elapsed;

    public static AvailabilityProbe Start(Func<NodeProcess> via, string conversationId, TimeSpan interval, TimeSpan limit)
    {
        var probe = new AvailabilityProbe();
        probe._loop = Task.Run(() => probe.RunAsync(via, conversationId, interval, limit));
        return probe;
    }

    private async Task RunAsync(Func<NodeProcess> via, string conversationId, TimeSpan interval, TimeSpan limit)
    {
        using var timer = new PeriodicTimer(interval);
        while (_clock.Elapsed < limit && await timer.WaitForNextTickAsync(_stop.Token).ConfigureAwait(false))
            lock (_inFlight) _inFlight.Add(AttemptAsync(via(), conversationId));
    }

    private async Task AttemptAsync(NodeProcess node, string conversationId)
    {
        var sent = _clock.Elapsed;
        TimeSpan? acked = null;
        try
        {
            var body = new[] { new { kind = "MessageEvent", source = "agent", id = Guid.NewGuid().ToString("D") } };
            using var response = await node.Http.PostAsJsonAsync($"/api/conversations/{conversationId}/agent/events", body);
            if (response.IsSuccessStatusCode) acked = _clock.Elapsed;
        }
        catch (Exception e) when (e is HttpRequestException or TaskCanceledException) { }
        lock (_attempts) _attempts.Add((sent, acked));
    }

    /// <summary>From <paramref name="since"/> to the first acknowledgement of an attempt sent after it; null if none.</summary>
    public TimeSpan? AcceptedAgainAfter(TimeSpan since)
    {
        lock (_attempts)
            return _attempts.Where(a => a.Sent > since && a.Acked is not null).Select(a => a.Acked!.Value - since)
                .DefaultIfEmpty(TimeSpan.MaxValue).Min() is var first && first != TimeSpan.MaxValue ? first : null;
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        try { await _loop; } catch (OperationCanceledException) { }
        Task[] pending;
        lock (_inFlight) pending = [.. _inFlight];
        await Task.WhenAll(pending);
        _stop.Dispose();
    }
}
