namespace Akka.Sync.Protocol;

/// <summary>
/// The browser clients' own preferences (agent-server <c>misc_settings</c>: language, analytics consent, enabled
/// skills, …): one JSON object for the whole cluster, kept by a persistent singleton. The server never interprets
/// it; it only merges patches into it (RFC 7386) and hands it back.
/// </summary>
public static class ClientPreferences
{
    /// <summary>The largest preferences document kept, in UTF-8 bytes.</summary>
    public const int MaxBytes = 64 * 1024;

    public sealed record Get : ISyncMessage
    {
        public static readonly Get Instance = new();
    }

    /// <summary>An RFC 7386 merge patch (a JSON object) to apply to the document.</summary>
    public sealed record Merge(string PatchJson) : ISyncMessage;

    /// <summary>The whole document, as stored after a merge (the persisted event) or as read (the reply).</summary>
    public sealed record Document(string Json) : ISyncMessage;

    /// <summary>A patch that would make the document larger than <see cref="MaxBytes"/>; nothing changed.</summary>
    public sealed record TooLarge(int Bytes) : ISyncMessage;
}
