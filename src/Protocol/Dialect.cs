namespace Akka.Sync.Protocol;

/// <summary>The wire dialect a conversation speaks, chosen once at creation.</summary>
public enum Dialect
{
    /// <summary>Plain WebSocket at /sockets/events/{id}, OpenHands agent-server semantics.</summary>
    V1 = 1,
    /// <summary>Socket.IO v5 over Engine.IO v4, OpenHands V0 semantics.</summary>
    V0 = 0,
}

public static class DialectNames
{
    public static string ToWire(this Dialect d) => d == Dialect.V0 ? "v0" : "v1";

    public static bool TryParse(string? text, out Dialect dialect)
    {
        switch (text?.ToLowerInvariant())
        {
            case null or "v1": dialect = Dialect.V1; return true;
            case "v0": dialect = Dialect.V0; return true;
            default: dialect = Dialect.V1; return false;
        }
    }
}
