using System.Text.Json;
using Akka.Actor;
using Akka.Sync.Gateway.Settings;
using Akka.Sync.Protocol;

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
}
