using System.Globalization;
using System.Text.RegularExpressions;

namespace Akka.Sync.Cluster.Tests.Support;

/// <summary>
/// Where the time of a failover went, read from the survivors' Akka log lines (their own UTC timestamps): when a node
/// was first marked unreachable, when the Split Brain Resolver downed it, when the leader removed it. Each step is
/// reported as seconds after the kill; a step whose line is not in the log (Akka's log level above Info) is left out.
/// </summary>
public static partial class Timeline
{
    private static readonly (string Step, string Fragment)[] Steps =
    [
        ("unreachable", "as UNREACHABLE"),
        ("downed by SBR", "SBR took decision"),
        ("removed", "Leader is removing"),
    ];

    public static string Of(IEnumerable<NodeProcess> survivors, DateTime killedUtc, TimeSpan writable)
    {
        var lines = survivors.SelectMany(n => n.Output).ToArray();
        var parts = new List<string>();
        foreach (var (step, fragment) in Steps)
        {
            var first = lines.Where(l => l.Contains(fragment, StringComparison.Ordinal))
                .Select(At).Where(t => t >= killedUtc).DefaultIfEmpty(DateTime.MinValue).Min();
            if (first != DateTime.MinValue) parts.Add($"{step} +{(first - killedUtc).TotalSeconds:F1} s");
        }
        parts.Add($"writable again +{writable.TotalSeconds:F1} s");
        return "failover timeline after the kill: " + string.Join(", ", parts);
    }

    private static DateTime At(string line) =>
        AkkaTimestamp().Match(line) is { Success: true } m
            ? DateTime.ParseExact(m.Groups[1].Value, "MM/dd/yyyy HH:mm:ss.FFFFFFF", CultureInfo.InvariantCulture, DateTimeStyles.AdjustToUniversal | DateTimeStyles.AssumeUniversal)
            : DateTime.MinValue;

    [GeneratedRegex(@"\[(\d\d/\d\d/\d{4} \d\d:\d\d:\d\d\.\d+)Z\]")]
    private static partial Regex AkkaTimestamp();
}
