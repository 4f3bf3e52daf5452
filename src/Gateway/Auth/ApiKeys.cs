using System.Security.Cryptography;
using System.Text;
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
public sealed class ApiKeys(GatewaySettings settings, Endpoints.ConversationRouting routing)
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
        var result = await routing.Route.Ask<ConversationReplies.AuthorizeResult>(
            new ConversationQueries.Authorize(id, Hash(key)), timeout);
        return result.Allowed ? AuthOutcome.ConversationKey : AuthOutcome.Denied;
    }

    /// <summary>
    /// A path and query fit for a log line: the value of every parameter whose name decodes to a key parameter
    /// (<c>session_api_key</c> in any case or percent-encoding, e.g. <c>session%5Fapi%5Fkey</c>, which ASP.NET decodes
    /// and authenticates) is replaced by <c>***</c>; everything else is kept as it came.
    /// </summary>
    public static string Mask(PathString path, QueryString query)
    {
        var raw = query.Value;
        if (string.IsNullOrEmpty(raw)) return path.Value ?? "";
        var sb = new StringBuilder(path.Value).Append('?');
        var first = true;
        foreach (var pair in raw.AsSpan(1).ToString().Split('&'))
        {
            if (!first) sb.Append('&');
            first = false;
            var eq = pair.IndexOf('=');
            var name = eq < 0 ? pair : pair[..eq];
            if (eq >= 0 && IsKeyParameter(name)) sb.Append(name).Append("=***");
            else sb.Append(pair);
        }
        return sb.ToString();
    }

    private static bool IsKeyParameter(string rawName)
    {
        string decoded;
        try
        {
            decoded = Uri.UnescapeDataString(rawName.Replace('+', ' '));
        }
        catch (UriFormatException)
        {
            return true; // undecodable: mask rather than risk it
        }
        return decoded.Trim().Equals("session_api_key", StringComparison.OrdinalIgnoreCase);
    }
}
