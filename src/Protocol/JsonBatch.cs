using System.Text.Json;

namespace Akka.Sync.Protocol;

/// <summary>Validates one item of a producer's batch; false with a reason otherwise.</summary>
public delegate bool ItemParser<T>(JsonElement item, out T value, out string error);

/// <summary>Helpers shared by both dialects' JSON: batch bodies and splicing pre-written fields.</summary>
public static class JsonBatch
{
    private static readonly JsonDocumentOptions DocOptions = new() { MaxDepth = 64 };

    /// <summary>
    /// A producer batch: a JSON array of 1..<paramref name="maxBatch"/> items, each validated by <paramref name="parse"/>;
    /// the first bad item names its index. <paramref name="tooMany"/> tells an oversized batch (413) from a bad one (400).
    /// </summary>
    /// <remarks>The document is parsed over <paramref name="utf8"/> itself, not a copy of it (a copy of every ingest
    /// body was ~4 % of the bytes a request allocated): nothing parsed refers to it afterwards, so a pooled body can
    /// go back to its pool once this returns.</remarks>
    public static bool TryParse<T>(ReadOnlyMemory<byte> utf8, int maxBatch, ItemParser<T> parse, out T[] items, out string error, out bool tooMany)
    {
        items = [];
        tooMany = false;
        if (!IsValidUtf8(utf8.Span, out error)) return false;
        JsonDocument doc;
        try
        {
            doc = JsonDocument.Parse(utf8, DocOptions);
        }
        catch (JsonException e)
        {
            error = $"invalid JSON: {(e.Message.Length <= 200 ? e.Message : e.Message[..200] + "…")}";
            return false;
        }
        using (doc)
        {
            var root = doc.RootElement;
            if (root.ValueKind != JsonValueKind.Array) { error = "expected a JSON array of events"; return false; }
            var count = root.GetArrayLength();
            if (count == 0) { error = "the batch is empty"; return false; }
            if (count > maxBatch)
            {
                tooMany = true;
                error = $"a batch holds at most {maxBatch} events, got {count}";
                return false;
            }
            var result = new T[count];
            var i = 0;
            foreach (var item in root.EnumerateArray())
            {
                if (!parse(item, out result[i], out var itemError))
                {
                    error = $"events[{i}]: {itemError}";
                    return false;
                }
                i++;
            }
            items = result;
            error = "";
            return true;
        }
    }

    /// <summary>
    /// JSON text must be valid UTF-8. System.Text.Json parses some invalid sequences inside strings and only fails
    /// when they are read, so every decoder checks first.
    /// </summary>
    public static bool IsValidUtf8(ReadOnlySpan<byte> utf8, out string error)
    {
        if (System.Text.Unicode.Utf8.IsValid(utf8)) { error = ""; return true; }
        error = "invalid UTF-8";
        return false;
    }

    /// <summary>
    /// Closes an object whose leading fields are already written (<paramref name="head"/>, an unclosed <c>{…</c>) with the
    /// fields of <paramref name="body"/> (a JSON object), without re-parsing either.
    /// </summary>
    public static byte[] Splice(ReadOnlySpan<byte> head, ReadOnlySpan<byte> body)
    {
        var inner = body.Trim(" \t\r\n"u8);
        if (inner.Length < 2 || inner[0] != (byte)'{' || inner[^1] != (byte)'}')
            throw new ArgumentException("body must be a JSON object", nameof(body));
        var fields = inner[1..^1].Trim(" \t\r\n"u8);
        var result = new byte[head.Length + (fields.Length > 0 ? fields.Length + 1 : 0) + 1];
        head.CopyTo(result);
        var at = head.Length;
        if (fields.Length > 0)
        {
            result[at++] = (byte)',';
            fields.CopyTo(result.AsSpan(at));
            at += fields.Length;
        }
        result[at] = (byte)'}';
        return result;
    }
}
