using System.Security.Cryptography;
using System.Text;
using System.Text.RegularExpressions;
using Akka.Actor;
using Akka.Hosting;
using Akka.Sync.Actors.Conversations;
using Akka.Sync.Gateway.Settings;
using Akka.Sync.Protocol;

namespace Akka.Sync.Gateway.Auth;

public enum AuthOutcome
{
    /// <summary>The server has no keys: everything is open.</summary>
    Open,
    ServerKey,
    ConversationKey,
    Denied,
}

/// <summary>
/// Session API keys (CONTRACT §8): server keys open everything; a conversation's own key opens that
/// conversation only. Keys are only ever held and compared as SHA-256 hashes, in constant time.
/// </summary>
public sealed partial class ApiKeys(GatewaySettings settings, IRequiredActor<ConversationRegion> region)
{
    /// <summary>The header that carries a key on REST calls and socket upgrades.</summary>
    public const string HeaderName = "X-Session-API-Key";

    private readonly byte[][] _serverKeyHashes = settings.SessionApiKeys.Select(Hash).ToArray();

    public bool IsOpen => _serverKeyHashes.Length == 0;

    public static byte[] Hash(string key) => SHA256.HashData(Encoding.UTF8.GetBytes(key));

    public static string NewKey() => Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(32));

    public bool IsServerKey(string? key)
    {
        if (key is null) return false;
        var hash = Hash(key);
        var ok = false;
        foreach (var h in _serverKeyHashes) ok |= CryptographicOperations.FixedTimeEquals(h, hash);
        return ok;
    }

    /// <summary>Checks a key for a route that needs a server key (collection routes).</summary>
    public AuthOutcome ForServer(string? key) =>
        IsOpen ? AuthOutcome.Open : IsServerKey(key) ? AuthOutcome.ServerKey : AuthOutcome.Denied;

    /// <summary>Checks a key for one conversation: a server key, or a key that conversation issued.</summary>
    public async Task<AuthOutcome> ForConversation(string? key, ConversationId id, TimeSpan timeout)
    {
        if (IsOpen) return AuthOutcome.Open;
        if (string.IsNullOrEmpty(key)) return AuthOutcome.Denied;
        if (IsServerKey(key)) return AuthOutcome.ServerKey;
        var result = await region.ActorRef.Ask<ConversationReplies.AuthorizeResult>(
            new ConversationQueries.Authorize(id, Hash(key)), timeout);
        return result.Allowed ? AuthOutcome.ConversationKey : AuthOutcome.Denied;
    }

    /// <summary>A URL or query fit for a log line: every session_api_key value replaced.</summary>
    public static string Mask(string text) => KeyInQuery().Replace(text, "$1***");

    [GeneratedRegex("(session_api_key=)[^&]*", RegexOptions.IgnoreCase)]
    private static partial Regex KeyInQuery();
}
