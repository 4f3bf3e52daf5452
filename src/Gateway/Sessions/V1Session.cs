using System.Net.WebSockets;
using Akka.Actor;
using Akka.Sync.Actors.Connections;
using Akka.Sync.Actors.Observability;
using Akka.Sync.Gateway.Auth;
using Akka.Sync.Gateway.Transport;
using Akka.Sync.Protocol;
using Akka.Sync.Protocol.Codecs;

namespace Akka.Sync.Gateway.Sessions;

/// <summary>
/// A V1 socket's session (CONTRACT §3): the resume parameters, the first-frame authentication when the upgrade carried
/// no key, then the socket's user messages to its <see cref="ConnectionActor"/>. The endpoint has already checked a key
/// that came with the upgrade.
/// </summary>
public sealed partial class V1Session(WebSocket socket, SessionServices services, HttpContext http, ConversationId? id,
    bool authenticated, ReplayFrom from, bool hasSlot) : SocketSession(socket, V1JsonCodec.Instance, services)
{
    /// <remarks>
    /// Not an async method: on the usual path (the key came with the upgrade) it returns the receive loop's task itself,
    /// so an idle socket holds no frame of this method (~130 bytes).
    /// </remarks>
    protected override Task RunSessionAsync()
    {
        if (Services.Budget.Draining)
            Transport.Close(CloseCodes.ServiceRestart, SocketBudget.RestartReason);
        else if (!hasSlot)
            Transport.Close(CloseCodes.TryAgainLater, SocketBudget.FullReason);
        else if (id is not { } conversation)
            Transport.Close(CloseCodes.NotFound, "Conversation not found");
        else if (!authenticated)
            return AuthenticateThenReceive(conversation);
        else
            Connect(conversation, from);
        return ReceiveLoop();
    }

    private async Task AuthenticateThenReceive(ConversationId conversation)
    {
        if (await AuthenticateFirstFrame(conversation))
            Connect(conversation, from);
        else
        {
            SyncMetrics.AuthFailures.Add(1, new KeyValuePair<string, object?>("surface", "v1_socket"));
            Services.Limiter.Failed(http);
            LogAuthRejected(Services.Log, conversation.Hex);
            Transport.Close(CloseCodes.AuthenticationFailed, "Authentication failed");
        }
        await ReceiveLoop();
    }

    /// <summary>No key on the upgrade: the first frame must be <c>{"type":"auth","session_api_key":…}</c> within the timeout.</summary>
    private async Task<bool> AuthenticateFirstFrame(ConversationId conversation)
    {
        if (await Reader.ReadAsync(Services.Settings.Limits.AuthTimeout) is not { } message) return false;
        if (message.Kind != MessageKind.Text)
        {
            Reader.PushBack(message); // a close, an oversized or binary message: the receive loop answers it
            return false;
        }
        if (Codec.Decode(message.Payload) is not ClientFrame.Auth auth) return false;
        try
        {
            return await Services.Keys.ForConversation(auth.SessionApiKey, conversation, Services.Settings.Limits.AskTimeout) != AuthOutcome.Denied;
        }
        catch (AskTimeoutException)
        {
            return false;
        }
    }

    protected override ValueTask<bool> OnFrame(ClientFrame frame)
    {
        // Until the connection actor runs (refused, or closing) nothing a client sends is used.
        switch (frame)
        {
            case ClientFrame.Message m: Connection?.Tell(new ConnectionActor.ClientMessage(m.UserMessage)); break;
            case ClientFrame.Bad b: Connection?.Tell(new ConnectionActor.ClientBadFrame(b.Detail)); break;
            // A repeated auth frame once authenticated is harmless.
        }
        return ValueTask.FromResult(true);
    }

    protected override void OnBinary() =>
        Connection?.Tell(new ConnectionActor.ClientBadFrame("binary frames are not supported; send JSON text"));

    /// <summary>Reads the replay query: <c>after_event_id</c>, else <c>resend_mode</c>/<c>after_timestamp</c>, else <c>resend_all</c>.</summary>
    public static bool TryParseReplay(IQueryCollection query, out ReplayFrom from, out string error)
    {
        from = ReplayFrom.LiveOnly;
        error = "";
        if (query["after_event_id"].FirstOrDefault() is { } afterId)
        {
            if (!Guid.TryParse(afterId, out var guid)) { error = "after_event_id must be an event id (UUID)"; return false; }
            from = ReplayFrom.EventId(guid.ToString("D"));
            return true;
        }
        var mode = query["resend_mode"].FirstOrDefault();
        if (mode is not null)
        {
            switch (mode.ToLowerInvariant())
            {
                case "all":
                    from = ReplayFrom.All;
                    return true;
                case "since":
                    if (!WireTime.TryParse(query["after_timestamp"].FirstOrDefault(), out var since))
                    {
                        error = "resend_mode=since needs after_timestamp (ISO 8601)";
                        return false;
                    }
                    from = ReplayFrom.Since(since);
                    return true;
                default:
                    error = "resend_mode must be all or since";
                    return false;
            }
        }
        var resendAll = query["resend_all"].FirstOrDefault();
        if (resendAll is null) return true;
        if (!bool.TryParse(resendAll, out var all)) { error = "resend_all must be true or false"; return false; }
        from = all ? ReplayFrom.All : ReplayFrom.LiveOnly;
        return true;
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Socket authentication failed for conversation {ConversationId}")]
    internal static partial void LogAuthRejected(ILogger log, string conversationId);
}
