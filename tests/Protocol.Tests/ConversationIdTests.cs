using Akka.Sync.Protocol;
using Xunit;

namespace Akka.Sync.Protocol.Tests;

public sealed class ConversationIdTests
{
    private const string Hex = "0b6a4b0e3f1a4c1e9a596c1f0d7e2b11";

    [Theory]
    [InlineData("0b6a4b0e3f1a4c1e9a596c1f0d7e2b11")]
    [InlineData("0B6A4B0E3F1A4C1E9A596C1F0D7E2B11")]
    [InlineData("0b6a4b0e-3f1a-4c1e-9a59-6c1f0d7e2b11")]
    [InlineData("0B6A4B0E-3F1A-4C1E-9A59-6C1F0D7E2B11")]
    public void Dashed_or_hex_in_any_case_parse_to_the_same_lowercase_hex(string text)
    {
        Assert.True(ConversationId.TryParse(text, out var id));
        Assert.Equal(Hex, id.Hex);
        Assert.Equal(Hex, id.ToString());
        Assert.Equal("0b6a4b0e-3f1a-4c1e-9a59-6c1f0d7e2b11", id.Dashed);
    }

    [Theory]
    [InlineData(null)]
    [InlineData("")]
    [InlineData("0b6a4b0e3f1a4c1e9a596c1f0d7e2b1")]
    [InlineData("0b6a4b0e3f1a4c1e9a596c1f0d7e2b111")]
    [InlineData("{0b6a4b0e-3f1a-4c1e-9a59-6c1f0d7e2b11}")]
    [InlineData("0b6a4b0e3f1a4c1e9a596c1f0d7e2bzz")]
    [InlineData("1' OR '1'='1")]
    [InlineData("../../etc/passwd")]
    [InlineData("0b6a4b0e-3f1a-4c1e-9a59-6c1f0d7e2b1\0")]
    public void Anything_else_is_not_a_conversation_id(string? text)
    {
        Assert.False(ConversationId.TryParse(text, out _));
        if (text is not null) Assert.Throws<FormatException>(() => ConversationId.Parse(text));
    }
}

public sealed class WireTimeTests
{
    [Fact]
    public void Timestamps_are_utc_with_microseconds_and_no_offset()
    {
        var t = new DateTime(2026, 11, 24, 22, 15, 2, DateTimeKind.Utc).AddTicks(1234567);
        Assert.Equal("2026-11-24T22:15:02.123456", WireTime.ToWire(WireTime.TruncateToMicros(t)));
        Assert.Equal(0, WireTime.TruncateToMicros(t).Ticks % 10);
    }

    [Theory]
    [InlineData("2026-11-24T22:15:02.123456", 22)]
    [InlineData("2026-11-24T22:15:02.123456Z", 22)]
    [InlineData("2026-11-24T23:15:02.123456+01:00", 22)]
    public void Client_timestamps_without_an_offset_are_read_as_utc(string text, int hour)
    {
        Assert.True(WireTime.TryParse(text, out var utc));
        Assert.Equal(DateTimeKind.Utc, utc.Kind);
        Assert.Equal(hour, utc.Hour);
        Assert.Equal(1234560, (int)(utc.Ticks % TimeSpan.TicksPerSecond));
    }

    [Theory]
    [InlineData(null)]
    [InlineData("")]
    [InlineData("yesterday")]
    public void Anything_else_is_not_a_timestamp(string? text) => Assert.False(WireTime.TryParse(text, out _));

    /// <summary>ToWire writes its digits itself: it must equal the format string everywhere.</summary>
    [Fact]
    public void The_wire_time_equals_the_custom_format_for_edges_and_a_spread_of_instants()
    {
        var ticks = new List<long>
        {
            DateTime.MinValue.Ticks, DateTime.MaxValue.Ticks, new DateTime(2000, 2, 29, 23, 59, 59, DateTimeKind.Utc).Ticks + 9_999_999,
            new DateTime(2026, 12, 31, 23, 59, 59, 999, DateTimeKind.Utc).Ticks, new DateTime(1999, 1, 1, 0, 0, 0, DateTimeKind.Utc).Ticks + 10,
        };
        var random = new Random(1234);
        for (var i = 0; i < 10_000; i++) ticks.Add(random.NextInt64(DateTime.MinValue.Ticks, DateTime.MaxValue.Ticks));
        foreach (var t in ticks)
        {
            var expected = new DateTime(t, DateTimeKind.Utc).ToString(WireTime.Format, System.Globalization.CultureInfo.InvariantCulture);
            Assert.Equal(expected, WireTime.ToWire(t));
            Assert.Equal(expected, WireTime.ToWire(new DateTime(t, DateTimeKind.Utc)));
        }
    }
}
