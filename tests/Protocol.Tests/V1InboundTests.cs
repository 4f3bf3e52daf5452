using System.Text;
using System.Text.Json;
using Akka.Sync.Protocol.Codecs;
using Akka.Sync.Protocol.V1;
using Xunit;

namespace Akka.Sync.Protocol.Tests;

public sealed class V1InboundTests
{
    private static ClientFrame Parse(string text) => V1Inbound.ParseClientFrame(Encoding.UTF8.GetBytes(text));

    private static JsonElement Content(UserMessage m) => JsonDocument.Parse(m.ContentJson).RootElement;

    [Fact]
    public void A_user_message_frame_runs_by_default_and_normalises_text_items()
    {
        var m = Assert.IsType<ClientFrame.Message>(Parse("""{"role":"user","content":[{"type":"text","text":"hi"}]}""")).UserMessage;
        Assert.True(m.Run);
        Assert.Equal("""[{"cache_prompt":false,"type":"text","text":"hi"}]""", Encoding.UTF8.GetString(m.ContentJson));
    }

    [Fact]
    public void Image_url_items_are_kept_as_image_items()
    {
        var m = Assert.IsType<ClientFrame.Message>(Parse(
            """{"role":"user","content":[{"type":"image_url","image_url":{"url":"https://x/y.png"}},{"type":"image","image_urls":["a","b"]}]}""")).UserMessage;
        var content = Content(m);
        Assert.Equal("image", content[0].GetProperty("type").GetString());
        Assert.Equal("https://x/y.png", content[0].GetProperty("image_urls")[0].GetString());
        Assert.Equal(2, content[1].GetProperty("image_urls").GetArrayLength());
    }

    [Fact]
    public void An_explicit_run_false_is_honoured() =>
        Assert.False(Assert.IsType<ClientFrame.Message>(Parse("""{"role":"user","content":[{"type":"text","text":"x"}],"run":false}""")).UserMessage.Run);

    [Fact]
    public void An_auth_frame_is_recognised() =>
        Assert.Equal("k", Assert.IsType<ClientFrame.Auth>(Parse("""{"type":"auth","session_api_key":"k"}""")).SessionApiKey);

    [Fact]
    public void Strings_with_nul_and_unicode_are_fine_json()
    {
        var m = Assert.IsType<ClientFrame.Message>(Parse("{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":\"a\\u0000b é 😀\"}]}")).UserMessage;
        Assert.Equal("a\0b é 😀", Content(m)[0].GetProperty("text").GetString());
    }

    [Theory]
    [InlineData("{", "invalid JSON")]
    [InlineData("42", "expected a JSON object")]
    [InlineData("""{"type":"auth"}""", "session_api_key")]
    [InlineData("""{"role":"assistant","content":[{"type":"text","text":"x"}]}""", "role must be")]
    [InlineData("""{"role":"user"}""", "content is required")]
    [InlineData("""{"role":"user","content":[]}""", "must not be empty")]
    [InlineData("""{"role":"user","content":"hi"}""", "must be an array")]
    [InlineData("""{"role":"user","content":[{"type":"sound"}]}""", "unknown content type")]
    [InlineData("""{"role":"user","content":[{"type":"text","text":5}]}""", "string text")]
    [InlineData("""{"role":"user","content":[{"type":"image_url"}]}""", "image_url.url")]
    [InlineData("""{"role":"user","content":[{"type":"image","image_urls":[1]}]}""", "image_urls")]
    [InlineData("""{"role":"user","content":[{"type":"text","text":"x"}],"run":"yes"}""", "run must be a boolean")]
    public void Bad_frames_are_values_with_a_detail(string text, string detail) =>
        Assert.Contains(detail, Assert.IsType<ClientFrame.Bad>(Parse(text)).Detail);

    [Fact]
    public void Nesting_deeper_than_64_is_bad() =>
        Assert.IsType<ClientFrame.Bad>(Parse(new string('[', 100) + new string(']', 100)));

    [Fact]
    public void Invalid_utf8_is_bad() =>
        Assert.IsType<ClientFrame.Bad>(V1Inbound.ParseClientFrame([(byte)'{', (byte)'"', 0xC3, 0x28, (byte)'"', (byte)':', (byte)'1', (byte)'}']));

    // ---- ingest ----

    private static (bool Ok, IncomingEvent[] Events, string Error, bool TooMany) Batch(string json, int max = 1000)
    {
        var ok = V1Inbound.TryParseIngestBatch(Encoding.UTF8.GetBytes(json), max, out var events, out var error, out var tooMany);
        return (ok, events, error, tooMany);
    }

    [Fact]
    public void An_ingest_batch_strips_base_fields_into_the_body_and_normalises_ids()
    {
        var id = Guid.NewGuid();
        var (ok, events, _, _) = Batch($$$"""[{"kind":"X","id":"{{{id.ToString("N").ToUpperInvariant()}}}","timestamp":"old","source":"agent","a":1,"b":{"c":[true]}}]""");
        Assert.True(ok);
        var e = Assert.Single(events);
        Assert.Equal("X", e.Kind);
        Assert.Equal("agent", e.Source);
        Assert.Equal(id.ToString("D"), e.Id);
        Assert.Equal("""{"a":1,"b":{"c":[true]}}""", Encoding.UTF8.GetString(e.Body));
    }

    [Fact]
    public void An_ingest_batch_can_give_each_event_without_an_id_a_new_uuid_and_still_refuses_a_given_id_twice()
    {
        var given = Guid.NewGuid().ToString("D");
        var json = Encoding.UTF8.GetBytes($$"""[{"kind":"X","source":"agent"},{"kind":"X","source":"agent","id":"{{given}}"},{"kind":"X","source":"agent"}]""");
        Assert.True(V1Inbound.TryParseIngestBatch(json, 10, assignIds: true, out var events, out var error, out _), error);
        Assert.Equal(given, events[1].Id);
        Assert.All(new[] { events[0], events[2] }, e => Assert.True(Guid.TryParseExact(e.Id, "D", out _)));
        Assert.Equal(3, events.Select(e => e.Id).Distinct().Count());
        Assert.True(V1Inbound.TryParseIngestBatch(json, 10, assignIds: false, out var plain, out _, out _));
        Assert.Equal([null, given, null], plain.Select(e => e.Id));

        var twice = Encoding.UTF8.GetBytes($$"""[{"kind":"X","source":"agent","id":"{{given}}"},{"kind":"X","source":"agent"},{"kind":"X","source":"agent","id":"{{given.ToUpperInvariant()}}"}]""");
        Assert.False(V1Inbound.TryParseIngestBatch(twice, 10, assignIds: true, out _, out var twiceError, out var tooMany));
        Assert.False(tooMany);
        Assert.Contains("events[2]", twiceError);
        Assert.Contains("appears twice", twiceError);
    }

    [Fact]
    public void Batches_over_the_bound_are_told_apart_from_bad_ones()
    {
        var (ok, _, error, tooMany) = Batch("[" + string.Join(",", Enumerable.Repeat("""{"kind":"X","source":"agent"}""", 4)) + "]", max: 3);
        Assert.False(ok);
        Assert.True(tooMany);
        Assert.Contains("at most 3", error);
    }

    [Theory]
    [InlineData("[]", "empty")]
    [InlineData("{}", "array")]
    [InlineData("[1]", "events[0]: expected an event object")]
    [InlineData("""[{"source":"agent"}]""", "kind")]
    [InlineData("""[{"kind":"X","source":"bot"}]""", "source")]
    [InlineData("""[{"kind":"X","source":"agent","id":"nope"}]""", "UUID")]
    [InlineData("""[{"kind":"X","source":"agent","id":"0b6a4b0e-3f1a-4c1e-9a59-6c1f0d7e2b11"},{"kind":"X","source":"agent","id":"0b6a4b0e3f1a4c1e9a596c1f0d7e2b11"}]""", "appears twice")]
    [InlineData("""[{"kind":"ConversationStateUpdateEvent","source":"environment","key":"execution_status","value":"asleep"}]""", "execution_status")]
    [InlineData("""[{"kind":"ConversationStateUpdateEvent","source":"environment","key":"execution_status"}]""", "execution_status")]
    public void Bad_batches_name_what_is_wrong(string json, string detail)
    {
        var (ok, _, error, tooMany) = Batch(json);
        Assert.False(ok);
        Assert.False(tooMany);
        Assert.Contains(detail, error);
    }

    [Fact]
    public void A_kind_longer_than_200_characters_is_refused() =>
        Assert.False(Batch($$"""[{"kind":"{{new string('k', 201)}}","source":"agent"}]""").Ok);
}
