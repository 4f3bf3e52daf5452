using System.Diagnostics;
using System.Net.Http.Json;
using System.Text.Json;

namespace Akka.Sync.Cluster.Tests.Support;

/// <summary>
/// An agent runtime pushing events: batches of fresh event ids through one node's ingest route, one at a time,
/// each retried with the same ids until it is acknowledged (that is what makes a retry across a failover safe).
/// Records the acknowledged ids in order, and the longest wait for an acknowledgement.
/// </summary>
public sealed class IngestWriter
{
    private readonly List<string> _acked = [];
    private readonly Stopwatch _clock = Stopwatch.StartNew();
    private TaskCompletionSource _reached = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private int _reachAt = int.MaxValue;

    private volatile bool _stopping;

    public Task Completion { get; private set; } = Task.CompletedTask;
    public int FailedAttempts { get; private set; }
    /// <summary>Attempts answered 503 (or 504): the conversation did not take the batch, and said so.</summary>
    public int Unavailable { get; private set; }
    /// <summary>Longest time from a batch's first attempt to its acknowledgement.</summary>
    public TimeSpan LongestWait { get; private set; }
    /// <summary>When (on this writer's clock) each batch was first sent and when it was acknowledged.</summary>
    public List<(TimeSpan Sent, TimeSpan Acked)> Batches { get; } = [];

    public IEnumerable<TimeSpan> AckTimes => Batches.Select(b => b.Acked);

    /// <summary>From <paramref name="since"/> to the acknowledgement of the first batch first sent after it.</summary>
    public TimeSpan UnavailableAfter(TimeSpan since) => Batches.First(b => b.Sent > since).Acked - since;

    public string[] Acked
    {
        get { lock (_acked) return _acked.ToArray(); }
    }

    public TimeSpan Now => _clock.Elapsed;

    /// <param name="pace">The least time between two batches' first attempts (an agent producing at a steady rate); none by default.</param>
    public static IngestWriter Start(Func<NodeProcess> via, string conversationId, int batches, int batchSize, TimeSpan timeout,
        TimeSpan pace = default)
    {
        var writer = new IngestWriter();
        writer.Completion = Task.Run(() => writer.RunAsync(via, conversationId, batches, batchSize, timeout, pace));
        return writer;
    }

    /// <summary>No batch is started after this; the one under way is still retried until acknowledged.</summary>
    public void Stop() => _stopping = true;

    /// <summary>Completes when at least <paramref name="count"/> events are acknowledged.</summary>
    public Task WhenAckedAsync(int count)
    {
        lock (_acked)
        {
            if (_acked.Count >= count) return Task.CompletedTask;
            _reachAt = count;
            _reached = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            return _reached.Task;
        }
    }

    private async Task RunAsync(Func<NodeProcess> via, string conversationId, int batches, int batchSize, TimeSpan timeout, TimeSpan pace)
    {
        var deadline = _clock.Elapsed + timeout;
        for (var b = 0; b < batches && !_stopping; b++)
        {
            if (b > 0 && pace > TimeSpan.Zero && Batches[^1].Sent + pace > _clock.Elapsed)
                await Task.Delay(Batches[^1].Sent + pace - _clock.Elapsed); // the producer's own rate, not synchronisation
            var ids = Enumerable.Range(0, batchSize).Select(_ => Guid.NewGuid().ToString("D")).ToArray();
            var body = ids.Select(i => new { kind = "MessageEvent", source = "agent", id = i, batch = b }).ToArray();
            var started = _clock.Elapsed;
            while (true)
            {
                if (_clock.Elapsed > deadline) throw new TimeoutException($"batch {b} not acknowledged within {timeout}");
                try
                {
                    using var response = await via().Http.PostAsJsonAsync($"/api/conversations/{conversationId}/agent/events", body);
                    if (response.IsSuccessStatusCode)
                    {
                        var items = (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("items");
                        var acked = items.EnumerateArray().Select(i => i.GetProperty("id").GetString()!).ToArray();
                        if (!acked.SequenceEqual(ids)) throw new InvalidOperationException("acknowledged ids differ from the batch");
                        break;
                    }
                    if ((int)response.StatusCode is 503 or 504) Unavailable++;
                    else
                        throw new InvalidOperationException($"ingest answered {(int)response.StatusCode}: {await response.Content.ReadAsStringAsync()}");
                }
                catch (Exception e) when (e is HttpRequestException or TaskCanceledException) { }
                FailedAttempts++;
                await Task.Delay(100); // a client's back-off between retries, not synchronisation
            }
            var waited = _clock.Elapsed - started;
            if (waited > LongestWait) LongestWait = waited;
            lock (_acked)
            {
                _acked.AddRange(ids);
                Batches.Add((started, _clock.Elapsed));
                if (_acked.Count >= _reachAt) _reached.TrySetResult();
            }
        }
    }
}
