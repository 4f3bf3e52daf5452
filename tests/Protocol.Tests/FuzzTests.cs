using System.Text;
using Akka.Sync.Protocol.V0;
using Akka.Sync.Protocol.Codecs;
using Akka.Sync.Protocol.V1;
using Xunit;
using Xunit.Abstractions;

namespace Akka.Sync.Protocol.Tests;

/// <summary>
/// Bounded, seeded fuzzing of every decoder that reads client bytes: each must answer with a value or a named error,
/// never throw. The seed is printed so a failure can be replayed (set AKKA_SYNC_FUZZ_SEED).
/// </summary>
[Trait("Category", "Stress")]
public sealed class FuzzTests(ITestOutputHelper output)
{
    private const int Iterations = 20_000;

    private int Seed()
    {
        var seed = int.TryParse(Environment.GetEnvironmentVariable("AKKA_SYNC_FUZZ_SEED"), out var s) ? s : Environment.TickCount;
        output.WriteLine($"fuzz seed {seed}");
        return seed;
    }

    private static readonly string[] Seeds =
    [
        """{"role":"user","content":[{"type":"text","text":"hi"}]}""",
        """{"type":"auth","session_api_key":"k"}""",
        """[{"kind":"MessageEvent","source":"agent","id":"0b6a4b0e-3f1a-4c1e-9a59-6c1f0d7e2b11","x":[1,{"y":null}]}]""",
        """42["oh_user_action",{"action":"message","args":{"content":"hi"}}]""",
        """40{"token":"t"}""",
        """2/nsp,12["x",{"a":1}]""",
        """{"action":"change_agent_state","source":"user","args":{"agent_state":"paused"}}""",
        "0", "3", "451-[\"x\"]", "",
    ];

    /// <summary>Mutates a seed: flips, inserts, deletes and duplicates bytes, sometimes into invalid UTF-8.</summary>
    private static byte[] Mutate(Random random)
    {
        var bytes = Encoding.UTF8.GetBytes(Seeds[random.Next(Seeds.Length)]).ToList();
        var edits = random.Next(1, 8);
        for (var e = 0; e < edits; e++)
        {
            var at = bytes.Count == 0 ? 0 : random.Next(bytes.Count);
            switch (random.Next(5))
            {
                case 0 when bytes.Count > 0: bytes[at] = (byte)random.Next(256); break;
                case 1: bytes.Insert(at, (byte)"{}[]\",:0123456789/\\-\u0000"[random.Next(21)]); break;
                case 2 when bytes.Count > 0: bytes.RemoveAt(at); break;
                case 3 when bytes.Count > 0: bytes.InsertRange(at, bytes.Take(random.Next(1, Math.Min(bytes.Count, 16) + 1)).ToArray()); break;
                default: bytes.Insert(at, (byte)random.Next(0x80, 0x100)); break;
            }
        }
        return bytes.ToArray();
    }

    [Fact]
    public void V1_and_V0_decoders_never_throw_on_mutated_input()
    {
        var random = new Random(Seed());
        var outcomes = new int[2];
        for (var i = 0; i < Iterations; i++)
        {
            var input = Mutate(random);
            var frame = V1Inbound.ParseClientFrame(input);
            outcomes[frame is ClientFrame.Bad ? 0 : 1]++;
            V1Inbound.TryParseIngestBatch(input, 1000, out _, out var e1, out _);
            V0Json.TryParseBatch(input, 1000, out _, out _, out _);
            V0Json.LooksLikeV0Batch(input);
            if (EngineIo.TryDecode(input, out var type, out var data, out _) && type == EnginePacketType.Message)
                SocketIo.TryDecode(data, out _, out _);
            SocketIo.TryDecode(input, out _, out _);
            Assert.NotNull(e1);
        }
        output.WriteLine($"{Iterations} inputs: {outcomes[0]} bad client frames, {outcomes[1]} accepted");
        Assert.True(outcomes[0] > 0 && outcomes[1] > 0, "the mutations should produce both good and bad frames");
    }

    [Fact]
    public void Random_bytes_never_crash_the_decoders()
    {
        var random = new Random(Seed());
        for (var i = 0; i < Iterations; i++)
        {
            var input = new byte[random.Next(0, 64)];
            random.NextBytes(input);
            V1Inbound.ParseClientFrame(input);
            V1Inbound.TryParseIngestBatch(input, 10, out _, out _, out _);
            V0Json.TryParseBatch(input, 10, out _, out _, out _);
            EngineIo.TryDecode(input, out _, out _, out _);
            SocketIo.TryDecode(input, out _, out _);
        }
    }
}
