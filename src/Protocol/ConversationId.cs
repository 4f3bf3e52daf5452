using System.Diagnostics.CodeAnalysis;

namespace Akka.Sync.Protocol;

/// <summary>
/// A conversation's identity: a UUID, accepted dashed or as 32 hex digits in any case,
/// always rendered as 32 lowercase hex digits (the shape OpenHands stores and returns).
/// </summary>
public readonly record struct ConversationId(Guid Value)
{
    public static ConversationId New() => new(RandomIds.NewGuid());

    public static bool TryParse([NotNullWhen(true)] string? text, out ConversationId id)
    {
        id = default;
        if (string.IsNullOrEmpty(text)) return false;
        var ok = text.Length switch
        {
            32 => Guid.TryParseExact(text, "N", out var n) && Set(n, out id),
            36 => Guid.TryParseExact(text, "D", out var d) && Set(d, out id),
            _ => false,
        };
        return ok;

        static bool Set(Guid g, out ConversationId value) { value = new ConversationId(g); return true; }
    }

    public static ConversationId Parse(string text) =>
        TryParse(text, out var id) ? id : throw new FormatException($"'{text}' is not a conversation id");

    /// <summary>The wire form: 32 lowercase hex digits.</summary>
    public string Hex => Value.ToString("N");

    /// <summary>The dashed form (OpenHands' full_state <c>id</c> is dashed).</summary>
    public string Dashed => Value.ToString("D");

    public override string ToString() => Hex;
}

/// <summary>Marker for every message routed to a conversation entity by Cluster Sharding.</summary>
public interface IWithConversationId
{
    ConversationId ConversationId { get; }
}

/// <summary>
/// Marker for every message that may cross nodes or be persisted; all of them are bound to
/// one explicit serializer (Akka.Sync.Actors.Serialization.SyncSerializer).
/// </summary>
public interface ISyncMessage;
