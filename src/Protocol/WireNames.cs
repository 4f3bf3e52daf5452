using System.Collections.Concurrent;
using System.Text.Json;

namespace Akka.Sync.Protocol;

/// <summary>
/// One shared string per event kind and source, for the names every stored event repeats.
/// </summary>
/// <remarks>
/// A conversation keeps its recent events in memory (<c>EventTail</c>), and each event held its own copy of its kind
/// ("ActionEvent", "MessageEvent"…) and source ("agent"…): two of the five objects an event kept alive, allocated per
/// event by the JSON reader or the journal's decoder. The garbage collector walks every live object at each gen-1 and
/// gen-2 collection, so the copies cost time long after they were made (bench/NOTES.md, "Issue 15, eighth sitting").
/// Kinds are interned here, at most <see cref="MaxNames"/> of them and each at most <see cref="MaxLength"/> characters
/// long (past that a name is kept as it came: a client inventing kinds cannot grow this table); sources are the three
/// constants of <see cref="EventSources"/>.
/// </remarks>
public static class WireNames
{
    public const int MaxNames = 1024;
    public const int MaxLength = 100;

    private static readonly NameTable Kinds = new(MaxNames, MaxLength);

    /// <summary>The shared instance equal to <paramref name="name"/>, or <paramref name="name"/> itself when the table is full or the name long.</summary>
    public static string Intern(string name) => Kinds.Intern(name);

    /// <summary>The <see cref="EventSources"/> constant a JSON string names, or null when it names none.</summary>
    public static string? Source(JsonElement source) =>
        source.ValueKind != JsonValueKind.String ? null
        : source.ValueEquals("agent"u8) ? EventSources.Agent
        : source.ValueEquals("user"u8) ? EventSources.User
        : source.ValueEquals("environment"u8) ? EventSources.Environment
        : null;

    /// <summary>The <see cref="EventSources"/> constant equal to <paramref name="source"/>, or <paramref name="source"/> itself.</summary>
    public static string Source(string source) => source switch
    {
        EventSources.Agent => EventSources.Agent,
        EventSources.User => EventSources.User,
        EventSources.Environment => EventSources.Environment,
        _ => source,
    };

    /// <summary>A bounded table of shared strings (the process keeps one for kinds; tests make their own).</summary>
    public sealed class NameTable(int maxNames, int maxLength)
    {
        private readonly ConcurrentDictionary<string, string> _names = new(StringComparer.Ordinal);

        public string Intern(string name)
        {
            if (name.Length > maxLength) return name;
            if (_names.TryGetValue(name, out var shared)) return shared;
            // Adding is rare (a kind not seen before) and only happens under this lock, so the bound holds exactly.
            lock (_names) return _names.Count >= maxNames ? _names.GetValueOrDefault(name, name) : _names.GetOrAdd(name, name);
        }
    }
}
