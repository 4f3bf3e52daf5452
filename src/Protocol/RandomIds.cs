using System.Security.Cryptography;

namespace Akka.Sync.Protocol;

/// <summary>
/// Random (version 4) UUIDs for event and conversation ids, drawn from the system's cryptographic generator 256 at
/// a time.
/// </summary>
/// <remarks>
/// <see cref="Guid.NewGuid"/> on Linux (this runtime's System.Native, without <c>arc4random_buf</c>) reads 16 bytes from
/// <c>/dev/urandom</c> with one <c>read</c> system call per id: ten per ingest request of ten events (bench/NOTES.md,
/// "Issue 15, eighth sitting"). Here each thread fills a buffer of 256 ids' worth with
/// <see cref="RandomNumberGenerator.Fill"/> (the same cryptographic quality), takes 16 bytes per id, sets the version
/// and variant bits as RFC 9562 section 5.4 asks, and wipes the bytes it used.
/// </remarks>
public static class RandomIds
{
    private const int IdsPerFill = 256;

    [ThreadStatic] private static byte[]? t_buffer;
    [ThreadStatic] private static int t_next;

    /// <summary>A new version-4 UUID.</summary>
    public static Guid NewGuid()
    {
        var buffer = t_buffer ??= new byte[IdsPerFill * 16];
        var next = t_next;
        if (next == 0) RandomNumberGenerator.Fill(buffer);
        t_next = next + 1 == IdsPerFill ? 0 : next + 1;
        var bytes = buffer.AsSpan(next * 16, 16);
        bytes[6] = (byte)((bytes[6] & 0x0F) | 0x40); // version 4
        bytes[8] = (byte)((bytes[8] & 0x3F) | 0x80); // variant 10xx
        var id = new Guid(bytes, bigEndian: true);
        bytes.Clear();
        return id;
    }

    /// <summary>A new version-4 UUID in its dashed form (<c>xxxxxxxx-xxxx-4xxx-yxxx-xxxxxxxxxxxx</c>), as event ids are.</summary>
    public static string NewDashed() => NewGuid().ToString("D");
}
