namespace Akka.Sync.Gateway.Web;

/// <summary>The browser clients this server hands out (<c>Web:*</c>): the inspector always, Agent Canvas when configured.</summary>
public sealed record WebSettings
{
    /// <summary>
    /// A folder holding an Agent Canvas build (the <c>build/</c> folder of <c>@openhands/agent-canvas</c>, fetched by
    /// <c>scripts/fetch-canvas</c>), served at <c>/</c>; off (null) by default, when <c>/</c> leads to the inspector.
    /// </summary>
    public string? CanvasPath { get; init; }

    /// <summary>
    /// The key the canvas page is handed (as the canvas' own static server does), so it opens this server without
    /// asking. Must be one of the server keys. Unset on a server with keys: the page asks its user for a key instead.
    /// </summary>
    public string? CanvasSessionApiKey { get; init; }
}
