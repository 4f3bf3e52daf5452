using System.Buffers;
using System.Text.Json;
using Akka.Actor;
using Akka.Sync.Gateway.Settings;
using Akka.Sync.Protocol;
using static Akka.Sync.Protocol.ConversationReplies;

namespace Akka.Sync.Gateway.Endpoints;

/// <summary>Shared pieces of the REST endpoints: errors as <c>{"detail":…}</c>, bounded bodies.</summary>
public static class Http
{
    public static IResult Error(int status, string detail) => Results.Json(new { detail }, statusCode: status);

    public static readonly IResult Success = Results.Json(new { success = true });

    /// <summary>Reads a request body up to the limit; null with the error to return otherwise.</summary>
    public static async Task<(byte[]? Body, IResult? Error)> ReadBody(HttpRequest request, LimitSettings limits, bool required)
    {
        if (request.ContentLength > limits.MaxBodyBytes)
            return (null, Error(413, $"request body is larger than {limits.MaxBodyBytes} bytes"));
        if (request.ContentLength is { } length)
        {
            // The common case (every agent runtime sends Content-Length): read straight into a body of that size, with
            // no staging buffer or copy (Kestrel ends the body at Content-Length and fails a connection that ends early).
            if (length == 0) return required ? (null, Error(400, "a JSON body is required")) : ([], null);
            var exact = new byte[length];
            var read = 0;
            while (read < exact.Length && await request.Body.ReadAsync(exact.AsMemory(read)) is var got and > 0) read += got;
            return read == exact.Length ? (exact, null) : (null, Error(400, "the request body ended before its Content-Length"));
        }
        using var ms = new MemoryStream();
        var buffer = new byte[16 * 1024];
        int n;
        while ((n = await request.Body.ReadAsync(buffer)) > 0)
        {
            if (ms.Length + n > limits.MaxBodyBytes)
                return (null, Error(413, $"request body is larger than {limits.MaxBodyBytes} bytes"));
            ms.Write(buffer, 0, n);
        }
        if (ms.Length == 0 && required) return (null, Error(400, "a JSON body is required"));
        return (ms.ToArray(), null);
    }

    /// <summary>
    /// <see cref="ReadBody"/> for a body that is parsed and then dropped (an agent batch: its events are copied out of
    /// it): a body of up to <see cref="PooledBody.MaxPooledBytes"/> with a Content-Length is read into an array of
    /// <see cref="ArrayPool{T}.Shared"/>, which goes back when the body is disposed (a new array per ingest request was
    /// ~5 % of the bytes it allocated; bench/NOTES.md, "Issue 15, thirteenth sitting").
    /// </summary>
    public static async Task<(PooledBody? Body, IResult? Error)> ReadBodyPooled(HttpRequest request, LimitSettings limits, bool required)
    {
        if (request.ContentLength is not { } length || length == 0 || length > Math.Min(PooledBody.MaxPooledBytes, limits.MaxBodyBytes))
        {
            var (body, error) = await ReadBody(request, limits, required);
            return error is not null ? (null, error) : (new PooledBody(body!, body!.Length, pooled: false), null);
        }
        var rented = ArrayPool<byte>.Shared.Rent((int)length);
        var read = 0;
        try
        {
            while (read < length && await request.Body.ReadAsync(rented.AsMemory(read, (int)length - read)) is var got and > 0) read += got;
        }
        catch
        {
            ArrayPool<byte>.Shared.Return(rented);
            throw;
        }
        if (read == length) return (new PooledBody(rented, read, pooled: true), null);
        ArrayPool<byte>.Shared.Return(rented);
        return (null, Error(400, "the request body ended before its Content-Length"));
    }

    /// <summary>Parses a JSON object body (an empty optional body reads as <c>{}</c>).</summary>
    public static async Task<(JsonDocument? Doc, IResult? Error)> ReadJsonObject(HttpRequest request, LimitSettings limits, bool required)
    {
        var (body, error) = await ReadBody(request, limits, required);
        if (error is not null) return (null, error);
        if (body!.Length == 0) return (JsonDocument.Parse("{}"), null);
        if (!Protocol.JsonBatch.IsValidUtf8(body, out var utf8Error)) return (null, Error(400, utf8Error));
        try
        {
            var doc = JsonDocument.Parse(body, new JsonDocumentOptions { MaxDepth = 64 });
            if (doc.RootElement.ValueKind != JsonValueKind.Object)
            {
                doc.Dispose();
                return (null, Error(400, "expected a JSON object"));
            }
            return (doc, null);
        }
        catch (JsonException e)
        {
            return (null, Error(400, $"invalid JSON: {e.Message}"));
        }
    }

    /// <summary>
    /// Asks a conversation, turning a timeout into 503 instead of an exception. A write carries its deadline (half the
    /// ask timeout): the conversation drops it unapplied when it gets there later, so the 503 is true for good.
    /// </summary>
    public static async Task<(T? Reply, IResult? Error)> Ask<T>(IActorRef target, object message, LimitSettings limits) where T : class
    {
        if (message is IWriteCommand { DeadlineTicks: 0 } write)
            message = write.WithDeadline(IWriteCommand.DeadlineFor(DateTime.UtcNow, limits.AskTimeout));
        try
        {
            return (await target.Ask<T>(message, limits.AskTimeout), null);
        }
        catch (AskTimeoutException)
        {
            return (null, Error(503, "the conversation did not answer in time; try again"));
        }
    }

    /// <summary>
    /// <see cref="Ask{T}"/> for an agent batch whose events all carry their ids, so sending it twice is safe (the
    /// conversation acknowledges a copy it already stored or has in flight, once that is durable, instead of storing it
    /// again). While unanswered, it is sent again every fifth of the ask timeout until its deadline, and the first
    /// success wins. Why: a rolling restart can lose a message — Akka's shard region drops what it buffered for a shard
    /// it is handing off ("Dropping [n] buffered messages to shard [s] during hand off to avoid re-ordering") — and the
    /// caller then waited the whole ask timeout for a 503 while the conversation answered again a second later. Every
    /// copy carries the first one's deadline, so a 503 still means "not stored, now or later": a copy applied before
    /// the deadline answers before the ask timeout, and a copy that answers "not applied" (too late, or the journal
    /// failed) stored nothing. An answer of any kind ends the sending: only silence is retried.
    /// </summary>
    public static async Task<(AppendResult? Reply, IResult? Error)> AskAppend(IActorRef target, ConversationCommands.AppendEvents append, LimitSettings limits)
    {
        var started = DateTime.UtcNow;
        var message = append.DeadlineTicks == 0 ? (ConversationCommands.AppendEvents)append.WithDeadline(IWriteCommand.DeadlineFor(started, limits.AskTimeout)) : append;
        var deadline = new DateTime(message.DeadlineTicks, DateTimeKind.Utc);
        var giveUp = started + limits.AskTimeout;
        var every = limits.AskTimeout / 5;
        var copies = new List<Task<AppendResult>>();
        var nextCopy = started;
        AppendResult? refused = null;
        while (true)
        {
            var now = DateTime.UtcNow;
            if (now >= giveUp) break;
            if (now >= nextCopy && now < deadline)
            {
                copies.Add(target.Ask<AppendResult>(message, giveUp - now));
                nextCopy = now + every;
            }
            foreach (var done in copies.Where(c => c.IsCompletedSuccessfully).ToList())
            {
                if (done.Result.Code != ResultCode.Unavailable) return (done.Result, null);
                refused = done.Result; // this copy stored nothing; another one in flight may still
                copies.Remove(done);
                if (copies.Count == 0) return (refused, null); // answered (journal down, or too late): not lost, no copy
            }
            foreach (var failed in copies.Where(c => c.IsFaulted || c.IsCanceled).ToList())
            {
                _ = failed.Exception; // timed out (AskTimeoutException): observed
                copies.Remove(failed);
            }
            if (copies.Count == 0 && now >= deadline) break; // every copy answered or timed out, and no more may go
            var wake = (nextCopy < deadline ? nextCopy : giveUp) - now;
            if (wake < TimeSpan.Zero) wake = TimeSpan.Zero;
            // Wait for an answer or the next copy's time, whichever is first; WaitAsync drops its timer as soon as an
            // answer comes (a Task.Delay raced against the copies stayed queued for its whole interval, one per request).
            if (copies.Count == 0) await Task.Delay(wake);
            else await (copies.Count == 1 ? (Task)copies[0] : Task.WhenAny(copies)).WaitAsync(wake).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        }
        foreach (var c in copies) _ = c.ContinueWith(t => t.Exception, TaskContinuationOptions.OnlyOnFaulted);
        return refused is not null ? (refused, null) : (null, Error(503, "the conversation did not answer in time; try again"));
    }
}

/// <summary>A request body read by <see cref="Http.ReadBodyPooled"/>: its bytes, valid until disposed.</summary>
public sealed class PooledBody(byte[] array, int length, bool pooled) : IDisposable
{
    /// <summary>Bodies up to this size are read into pooled arrays; larger ones (rare: a batch of big events) are not
    /// kept in the pool.</summary>
    public const int MaxPooledBytes = 64 * 1024;

    private byte[]? _array = array;

    public ReadOnlyMemory<byte> Memory => (_array ?? throw new ObjectDisposedException(nameof(PooledBody))).AsMemory(0, length);

    public void Dispose()
    {
        var array = Interlocked.Exchange(ref _array, null);
        if (pooled && array is not null) ArrayPool<byte>.Shared.Return(array);
    }
}
