using System.Globalization;

namespace Akka.Sync.Protocol;

/// <summary>
/// Timestamps the way OpenHands emits them: ISO 8601, UTC, microseconds, no offset
/// (<c>2026-11-24T22:15:02.123456</c>). Ticks (100 ns) are truncated to whole microseconds so
/// that the text and the stored value always agree.
/// </summary>
public static class WireTime
{
    public const string Format = "yyyy-MM-dd'T'HH':'mm':'ss'.'ffffff";

    public static DateTime TruncateToMicros(DateTime utc) =>
        new(utc.Ticks - utc.Ticks % 10, DateTimeKind.Utc);

    public static string ToWire(DateTime utc) => utc.ToString(Format, CultureInfo.InvariantCulture);

    public static string ToWire(long utcTicks) => ToWire(new DateTime(utcTicks, DateTimeKind.Utc));

    /// <summary>
    /// Parses a client-supplied timestamp (the filters of events/search and <c>after_timestamp</c>).
    /// A value without an offset is taken as UTC, as this server writes them.
    /// </summary>
    public static bool TryParse(string? text, out DateTime utc)
    {
        utc = default;
        if (string.IsNullOrWhiteSpace(text)) return false;
        if (!DateTime.TryParse(text, CultureInfo.InvariantCulture,
                DateTimeStyles.AdjustToUniversal | DateTimeStyles.AssumeUniversal, out var parsed))
            return false;
        utc = DateTime.SpecifyKind(parsed, DateTimeKind.Utc);
        return true;
    }
}
