using System.Net;
using System.Net.WebSockets;
using System.Text.Json;
using Akka.Sync.Protocol;
using Akka.Sync.Protocol.V1;
using static Akka.Sync.Protocol.ConversationCommands;
using static Akka.Sync.Protocol.ConversationReplies;

namespace Akka.Sync.Actors.Following;

/// <summary>Why a link to an upstream ended: worth retrying soon, or only after the upstream or the binding changed.</summary>
public enum LinkFault
{
    Transient,
    Unauthorized,
    NotFound,
}

public sealed class UpstreamException(LinkFault fault, string message) : Exception(message)
{
    public LinkFault Fault { get; } = fault;
}

/// <summary>A page of <c>events/search</c>: the items in upstream order, and the id that starts the next page.</summary>
public sealed record UpstreamPage(FollowedEvent[] Items, int Skipped, string? NextPageId);

/// <summary>
/// One upstream agent-server conversation, spoken to the way the OpenHands SDK's remote client does
/// (<c>remote_conversation.py</c>): the socket <c>/sockets/events/{id}</c> with the key in a first
/// <c>{"type":"auth"}</c> frame (never in the URL), <c>GET …/events/search</c> pages to catch up, and the REST routes
/// for users' actions with <c>X-Session-API-Key</c>. Every call is bounded by <see cref="UpstreamSettings.RequestTimeout"/>
/// (but the socket, which lives as long as the link). The key is never put in a message or a log line.
/// </summary>
public sealed class UpstreamClient(HttpClient http, UpstreamSettings settings, string baseUrl, string conversationId, string? key)
{
    public const int PageSize = 100;
    private const int MaxFrameBytes = 32 * 1024 * 1024;
    private static readonly byte[] NoBody = [];

    private string Conversation => $"{baseUrl}/api/conversations/{Uri.EscapeDataString(conversationId)}";

    /// <summary>An absolute http(s) URL without credentials, query or fragment, without its trailing slash.</summary>
    public static bool TryNormalizeUrl(string? raw, out string url, out string error)
    {
        url = "";
        error = "upstream.url must be an absolute http or https URL without credentials, query or fragment";
        if (!Uri.TryCreate(raw, UriKind.Absolute, out var uri) || uri.Scheme is not ("http" or "https")
            || uri.UserInfo.Length > 0 || uri.Query.Length > 0 || uri.Fragment.Length > 0)
            return false;
        url = uri.GetLeftPart(UriPartial.Path).TrimEnd('/');
        error = "";
        return true;
    }

    // ---- REST ----

    /// <summary>A call to the upstream: its status and body; a transport failure or a timeout throws.</summary>
    public async Task<(int Status, byte[] Body)> SendAsync(HttpMethod method, string url, byte[]? body, CancellationToken ct = default)
    {
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(ct);
        deadline.CancelAfter(settings.RequestTimeout);
        using var request = new HttpRequestMessage(method, url);
        if (key is not null) request.Headers.Add("X-Session-API-Key", key);
        request.Headers.Accept.ParseAdd("application/json");
        if (body is not null)
            request.Content = new ByteArrayContent(body) { Headers = { ContentType = new("application/json") } };
        using var response = await http.SendAsync(request, deadline.Token);
        return ((int)response.StatusCode, await response.Content.ReadAsByteArrayAsync(deadline.Token));
    }

    public Task<(int Status, byte[] Body)> GetConversationAsync(CancellationToken ct = default) => SendAsync(HttpMethod.Get, Conversation, null, ct);

    /// <summary><c>POST /api/conversations</c> on the upstream server with a start request.</summary>
    public Task<(int Status, byte[] Body)> StartConversationAsync(byte[] request, CancellationToken ct = default) =>
        SendAsync(HttpMethod.Post, $"{baseUrl}/api/conversations", request, ct);

    /// <summary>
    /// One page of the upstream's events in upstream order, from <paramref name="sinceTicks"/> on (inclusive); every
    /// failure is an <see cref="UpstreamException"/> saying what went wrong.
    /// </summary>
    public async Task<UpstreamPage> SearchAsync(long? sinceTicks, string? pageId, CancellationToken ct)
    {
        var url = $"{Conversation}/events/search?limit={PageSize}&sort_order=TIMESTAMP";
        if (sinceTicks is { } since) url += "&timestamp__gte=" + Uri.EscapeDataString(WireTime.ToWire(since));
        if (pageId is not null) url += "&page_id=" + Uri.EscapeDataString(pageId);
        try
        {
            var (status, body) = await SendAsync(HttpMethod.Get, url, null, ct);
            if (status is not 200) throw new UpstreamException(FaultOf(status), $"events/search answered {status}: {Detail(body)}");
            return ReadPage(body);
        }
        catch (OperationCanceledException) when (!ct.IsCancellationRequested)
        {
            throw new UpstreamException(LinkFault.Transient, "events/search did not answer in time");
        }
        catch (HttpRequestException e)
        {
            throw new UpstreamException(LinkFault.Transient, "events/search failed: " + e.Message);
        }
        catch (Exception e) when (e is JsonException or KeyNotFoundException or InvalidOperationException)
        {
            throw new UpstreamException(LinkFault.Transient, "events/search answered something that is not a page of events");
        }
    }

    private static UpstreamPage ReadPage(byte[] body)
    {
        using var doc = JsonDocument.Parse(body);
        var items = new List<FollowedEvent>();
        var skipped = 0;
        foreach (var item in doc.RootElement.GetProperty("items").EnumerateArray())
        {
            if (UpstreamEvents.Classify(item, out var e, out _) == UpstreamFrameKind.Event) items.Add(e!);
            else skipped++;
        }
        var next = doc.RootElement.TryGetProperty("next_page_id", out var n) && n.ValueKind == JsonValueKind.String ? n.GetString() : null;
        return new UpstreamPage(items.ToArray(), skipped, next);
    }

    /// <summary>
    /// A user's action, sent once (never retried: the upstream has no idempotency key for it) and answered in this
    /// contract's terms: the upstream's own refusals (400, 404, 409) pass through; anything else it answers is a 502;
    /// no answer in time is a 504 (the action may have been applied).
    /// </summary>
    public async Task<CommandResult> ForwardAsync(object command)
    {
        var (path, body) = command switch
        {
            SendMessage m => ("/events", V1Json.Write(w =>
            {
                w.WriteStartObject();
                w.WriteString("role"u8, "user");
                w.WritePropertyName("content"u8);
                w.WriteRawValue(m.Message.ContentJson, skipInputValidation: true);
                w.WriteBoolean("run"u8, m.Message.Run);
                w.WriteEndObject();
            })),
            Run => ("/run", NoBody),
            Pause p => (p.Interrupt ? "/interrupt" : "/pause", NoBody),
            RespondToConfirmation r => ("/events/respond_to_confirmation", V1Json.Write(w =>
            {
                w.WriteStartObject();
                w.WriteBoolean("accept"u8, r.Accept);
                if (r.Reason.Length > 0) w.WriteString("reason"u8, r.Reason);
                w.WriteEndObject();
            })),
            _ => throw new ArgumentException($"{command.GetType().Name} is not forwarded", nameof(command)),
        };
        try
        {
            var (status, answer) = await SendAsync(HttpMethod.Post, Conversation + path, body.Length == 0 ? null : body);
            return status switch
            {
                >= 200 and < 300 => CommandResult.Ok,
                400 or 422 => new CommandResult(ResultCode.BadRequest, "upstream: " + Detail(answer)),
                404 => new CommandResult(ResultCode.NotFound, "Conversation not found on the upstream agent server"),
                409 => new CommandResult(ResultCode.Conflict, "upstream: " + Detail(answer)),
                401 or 403 => new CommandResult(ResultCode.BadGateway, "the upstream agent server refused its session key"),
                _ => new CommandResult(ResultCode.BadGateway, $"the upstream agent server answered {status}: {Detail(answer)}"),
            };
        }
        catch (OperationCanceledException)
        {
            return new CommandResult(ResultCode.GatewayTimeout,
                $"the upstream agent server did not answer within {settings.RequestTimeout.TotalSeconds:0.#} s; the action may or may not have been applied");
        }
        catch (HttpRequestException e)
        {
            return new CommandResult(ResultCode.BadGateway, "the upstream agent server could not be reached: " + e.Message);
        }
    }

    public static LinkFault FaultOf(int status) => status switch
    {
        401 or 403 => LinkFault.Unauthorized,
        404 => LinkFault.NotFound,
        _ => LinkFault.Transient,
    };

    /// <summary>An error body's <c>detail</c> (agent-server and this server both answer <c>{"detail":…}</c>), short.</summary>
    public static string Detail(byte[] body)
    {
        string text;
        try
        {
            using var doc = JsonDocument.Parse(body);
            text = doc.RootElement.ValueKind == JsonValueKind.Object && doc.RootElement.TryGetProperty("detail", out var d)
                ? d.ValueKind == JsonValueKind.String ? d.GetString()! : d.GetRawText()
                : doc.RootElement.GetRawText();
        }
        catch (JsonException)
        {
            text = System.Text.Encoding.UTF8.GetString(body);
        }
        return text.Length <= 300 ? text : text[..300] + "…";
    }

    // ---- the socket ----

    public Uri SocketUri
    {
        get
        {
            var b = new UriBuilder($"{Conversation.Replace("/api/conversations/", "/sockets/events/", StringComparison.Ordinal)}");
            b.Scheme = b.Scheme == "https" ? "wss" : "ws";
            return b.Uri;
        }
    }

    /// <summary>
    /// Opens the socket without a replay (new events only: the catch-up reads the rest over REST), authenticates with a
    /// first frame, and hands every text message to <paramref name="onFrame"/> until the socket ends; returns why it ended.
    /// </summary>
    public async Task<(LinkFault Fault, string Detail)> RunSocketAsync(Action<byte[]> onFrame, CancellationToken ct)
    {
        using var ws = new ClientWebSocket();
        ws.Options.CollectHttpResponseDetails = true;
        ws.Options.KeepAliveInterval = TimeSpan.FromSeconds(20);
        try
        {
            using (var deadline = CancellationTokenSource.CreateLinkedTokenSource(ct))
            {
                deadline.CancelAfter(settings.RequestTimeout);
                await ws.ConnectAsync(SocketUri, deadline.Token);
                if (key is not null)
                    await ws.SendAsync(JsonSerializer.SerializeToUtf8Bytes(new { type = "auth", session_api_key = key }),
                        WebSocketMessageType.Text, true, deadline.Token);
            }
            var buffer = new byte[64 * 1024];
            using var message = new MemoryStream();
            while (true)
            {
                var r = await ws.ReceiveAsync(buffer, ct);
                if (r.MessageType == WebSocketMessageType.Close)
                {
                    var code = (int?)ws.CloseStatus;
                    var why = $"the upstream closed the socket ({code} {ws.CloseStatusDescription})";
                    return (code switch { 4001 => LinkFault.Unauthorized, 4004 => LinkFault.NotFound, _ => LinkFault.Transient }, why);
                }
                message.Write(buffer, 0, r.Count);
                if (message.Length > MaxFrameBytes) return (LinkFault.Transient, $"an upstream frame is larger than {MaxFrameBytes} bytes");
                if (!r.EndOfMessage) continue;
                if (r.MessageType == WebSocketMessageType.Text) onFrame(message.ToArray());
                message.SetLength(0);
            }
        }
        catch (WebSocketException e) when (ws.HttpStatusCode is HttpStatusCode.Unauthorized or HttpStatusCode.Forbidden)
        {
            return (LinkFault.Unauthorized, $"the upstream refused the socket ({(int)ws.HttpStatusCode}): {e.Message}");
        }
        catch (WebSocketException e) when (ws.HttpStatusCode is HttpStatusCode.NotFound)
        {
            return (LinkFault.NotFound, $"the upstream has no socket for the conversation (404): {e.Message}");
        }
        catch (WebSocketException e)
        {
            return (LinkFault.Transient, "the upstream socket failed: " + e.Message);
        }
        catch (OperationCanceledException) when (!ct.IsCancellationRequested)
        {
            return (LinkFault.Transient, $"the upstream socket did not open within {settings.RequestTimeout.TotalSeconds:0.#} s");
        }
        catch (OperationCanceledException)
        {
            return (LinkFault.Transient, "stopped");
        }
    }
}
