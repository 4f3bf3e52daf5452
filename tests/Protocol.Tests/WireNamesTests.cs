using System.Text;
using System.Text.Json;
using Akka.Sync.Protocol.V1;
using Xunit;

namespace Akka.Sync.Protocol.Tests;

/// <summary>
/// <see cref="WireNames"/>: events that name the same kind and source share one string each, so the events a
/// conversation keeps in memory do not each keep copies; the table of kinds is bounded.
/// </summary>
public sealed class WireNamesTests
{
    private static string Fresh(string s) => new(s.AsSpan()); // a new instance, as a reader allocates

    [Fact]
    public void Events_parsed_from_a_batch_share_their_kind_and_source_strings()
    {
        var body = Encoding.UTF8.GetBytes(
            """[{"kind":"WireNamesTestEvent","source":"agent","n":1},{"kind":"WireNamesTestEvent","source":"agent","n":2},{"kind":"WireNamesTestEvent","source":"user"}]""");
        Assert.True(V1Inbound.TryParseIngestBatch(body, 100, out var events, out var error, out _), error);
        Assert.Equal("WireNamesTestEvent", events[0].Kind);
        Assert.Same(events[0].Kind, events[1].Kind);
        Assert.Same(events[0].Kind, events[2].Kind);
        Assert.Same(EventSources.Agent, events[0].Source);
        Assert.Same(EventSources.Agent, events[1].Source);
        Assert.Same(EventSources.User, events[2].Source);
    }

    [Theory]
    [InlineData("\"agent\"", EventSources.Agent)]
    [InlineData("\"user\"", EventSources.User)]
    [InlineData("\"environment\"", EventSources.Environment)]
    [InlineData("\"Agent\"", null)]
    [InlineData("\"\"", null)]
    [InlineData("\"agent \"", null)]
    [InlineData("1", null)]
    [InlineData("null", null)]
    public void A_source_is_one_of_the_three_constants_or_refused(string json, string? expected)
    {
        using var doc = JsonDocument.Parse(json);
        var source = WireNames.Source(doc.RootElement);
        Assert.Equal(expected, source);
        if (expected is not null) Assert.Same(string.IsInterned(expected), source); // the constant itself
    }

    [Fact]
    public void A_source_string_read_back_is_the_shared_constant_and_anything_else_is_kept_as_it_came()
    {
        Assert.Same(EventSources.Environment, WireNames.Source(Fresh("environment")));
        var odd = Fresh("robot");
        Assert.Same(odd, WireNames.Source(odd));
    }

    [Fact]
    public void A_name_longer_than_the_limit_is_not_kept_in_the_table()
    {
        var table = new WireNames.NameTable(maxNames: 8, maxLength: 10);
        var atLimit = table.Intern(Fresh("abcdefghij"));
        Assert.Same(atLimit, table.Intern(Fresh("abcdefghij")));
        var longer = Fresh("abcdefghijk");
        Assert.Same(longer, table.Intern(longer));
        Assert.NotSame(longer, table.Intern(Fresh("abcdefghijk")));
    }

    [Fact]
    public void The_table_stops_growing_at_its_bound_and_names_already_in_it_stay_shared()
    {
        var table = new WireNames.NameTable(maxNames: 8, maxLength: 100);
        var kept = table.Intern(Fresh("KeptEvent"));
        for (var i = 0; i < 20; i++) table.Intern($"Fill{i}");
        Assert.Same(kept, table.Intern(Fresh("KeptEvent")));
        Assert.Same(table.Intern("Fill6"), table.Intern(Fresh("Fill6"))); // the eighth name went in
        var late = Fresh("Fill7");
        Assert.Same(late, table.Intern(late));
        Assert.NotSame(late, table.Intern(Fresh("Fill7"))); // not added: each call keeps its own
    }

    [Fact]
    public void Names_added_from_many_threads_at_once_stop_exactly_at_the_bound()
    {
        var table = new WireNames.NameTable(maxNames: 50, maxLength: 100);
        var names = Enumerable.Range(0, 800).Select(i => $"Race{i}").ToArray();
        Parallel.For(0, 8, new ParallelOptions { MaxDegreeOfParallelism = 8 }, t =>
        {
            for (var i = t; i < names.Length; i += 8) table.Intern(Fresh(names[i]));
        });
        var kept = names.Count(n => ReferenceEquals(table.Intern(Fresh(n)), table.Intern(Fresh(n))));
        Assert.Equal(50, kept);
    }

    [Fact]
    public void The_process_table_shares_kinds_up_to_its_length_limit()
    {
        var kind = new string('K', WireNames.MaxLength);
        Assert.Same(WireNames.Intern(Fresh(kind)), WireNames.Intern(Fresh(kind)));
        var tooLong = Fresh(kind + "K");
        Assert.Same(tooLong, WireNames.Intern(tooLong));
    }
}
