namespace Akka.Sync.Bench.Load;

/// <summary>One figure of one workload, measured on each server that ran it.</summary>
public sealed class Metric
{
    public required string Workload { get; init; }
    public required string Name { get; init; }
    public required string Unit { get; init; }
    public bool HigherIsBetter { get; init; } = true;
    public Dictionary<ServerKind, double> Values { get; } = new();
    /// <summary>The target, as text, and whether the product meets it (null: no target on this figure).</summary>
    public string? Target { get; set; }
    public bool? Met { get; set; }
    public string? Note { get; set; }

    public double? Of(ServerKind kind) => Values.TryGetValue(kind, out var v) && !double.IsNaN(v) ? v : null;

    /// <summary>Akka.Sync ÷ baseline (for "lower is better" figures too: the reader sees which way is good from the unit).</summary>
    public double? Ratio(ServerKind baseline) => Of(ServerKind.AkkaSync) is { } a && Of(baseline) is { } b && b != 0 ? a / b : null;
}

public sealed class Results
{
    public List<Metric> Metrics { get; } = new();
    public List<string> Notes { get; } = new();

    public Metric Add(string workload, string name, string unit, bool higherIsBetter = true)
    {
        var existing = Metrics.FirstOrDefault(m => m.Workload == workload && m.Name == name);
        if (existing is not null) return existing;
        var m = new Metric { Workload = workload, Name = name, Unit = unit, HigherIsBetter = higherIsBetter };
        Metrics.Add(m);
        return m;
    }

    public static string Format(double v, string unit) => unit switch
    {
        _ when double.IsNaN(v) => "–",
        "ms" or "s" when v < 10 => v.ToString("0.00"),
        "µs/delivery" => v.ToString("0.00"),
        "KB" => v.ToString("0.0"),
        _ when v >= 100 => v.ToString("#,0"),
        _ => v.ToString("0.0"),
    };
}
