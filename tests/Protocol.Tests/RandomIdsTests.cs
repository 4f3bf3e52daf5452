using System.Collections.Concurrent;
using Xunit;

namespace Akka.Sync.Protocol.Tests;

/// <summary>
/// <see cref="RandomIds"/>: version-4 UUIDs from a buffer of the cryptographic generator's bytes, refilled every 256
/// ids. They must look like any other v4 id, never repeat (within a buffer, across refills, across threads), and
/// leave no random bit fixed.
/// </summary>
public sealed class RandomIdsTests
{
    [Fact]
    public void Every_id_is_a_version_4_rfc_9562_uuid_in_the_dashed_form()
    {
        for (var i = 0; i < 2_000; i++) // several buffers' worth
        {
            var text = RandomIds.NewDashed();
            Assert.Matches("^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$", text);
            Assert.Equal(4, Guid.Parse(text).Version);
            Assert.Equal(text, Guid.Parse(text).ToString("D"));
        }
    }

    [Fact]
    public void Ids_do_not_repeat_across_refills_and_threads()
    {
        var seen = new ConcurrentDictionary<Guid, byte>();
        const int Threads = 8, PerThread = 20_000; // 78 refills per thread
        Parallel.For(0, Threads, new ParallelOptions { MaxDegreeOfParallelism = Threads }, _ =>
        {
            for (var i = 0; i < PerThread; i++)
                Assert.True(seen.TryAdd(RandomIds.NewGuid(), 0));
        });
        Assert.Equal(Threads * PerThread, seen.Count);
    }

    [Fact]
    public void Each_of_the_122_random_bits_is_set_in_about_half_of_the_ids()
    {
        const int N = 4_096; // 16 buffers
        var ones = new int[128];
        Span<byte> bytes = stackalloc byte[16];
        for (var i = 0; i < N; i++)
        {
            Assert.True(RandomIds.NewGuid().TryWriteBytes(bytes, bigEndian: true, out _));
            for (var bit = 0; bit < 128; bit++)
                if ((bytes[bit / 8] & (0x80 >> (bit % 8))) != 0) ones[bit]++;
        }
        for (var bit = 0; bit < 128; bit++)
        {
            var fixedBit = bit is >= 48 and < 52 || bit is 64 or 65; // the version nibble and the variant's two bits
            if (fixedBit) continue;
            // Binomial(4096, 1/2): mean 2048, standard deviation 32; 1,700-2,400 is eleven deviations either side.
            Assert.InRange(ones[bit], 1_700, 2_400);
        }
        Assert.Equal([0, N, 0, 0], ones[48..52]); // 0100: version 4
        Assert.Equal([N, 0], ones[64..66]);       // 10: the RFC 9562 variant
    }

    [Fact]
    public void A_new_conversation_id_is_a_version_4_uuid()
    {
        var ids = Enumerable.Range(0, 1_000).Select(_ => ConversationId.New()).ToHashSet();
        Assert.Equal(1_000, ids.Count);
        Assert.All(ids, id => Assert.Equal(4, id.Value.Version));
    }
}
