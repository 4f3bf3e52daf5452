using System.Runtime.InteropServices;

namespace Akka.Sync.Gateway;

/// <summary>
/// Caps glibc's malloc arenas at two, as <c>MALLOC_ARENA_MAX=2</c> would, unless that variable is set.
/// </summary>
/// <remarks>
/// glibc gives each thread that meets a locked arena a new one, up to eight per core, and each keeps the pages it once
/// touched. Start-up spreads the runtime's, SQLite's and OpenSSL's allocations over a dozen threads, so a node at rest
/// held ~4 MB of native heap in arenas that no thread used again: 155.7 MB of RSS 60 s after ready with the default,
/// 151.5 MB with two arenas (bench/NOTES.md, "Issue 15, seventh sitting"). Two, not one: the socket and journal threads still
/// allocate side by side. The call comes first in <c>Main</c>, before the host starts its threads; glibc reads the
/// variable itself at the first allocation, so when it is set this leaves it alone. Elsewhere (musl, macOS, Windows)
/// it does nothing.
/// </remarks>
internal static class MallocArenas
{
    /// <summary>The cap applied when <c>MALLOC_ARENA_MAX</c> is not set.</summary>
    public const int Default = 2;

    private const int M_ARENA_MAX = -8;

    [DllImport("libc", EntryPoint = "mallopt")]
    private static extern int Mallopt(int param, int value);

    /// <summary>Applies the cap; returns it, or null when left to <paramref name="configured"/> or to the platform.</summary>
    public static int? Limit(string? configured)
    {
        if (!string.IsNullOrEmpty(configured) || !OperatingSystem.IsLinux()) return null;
        try
        {
            // glibc's mallopt returns 1 on success; musl's does nothing and returns 0.
            return Mallopt(M_ARENA_MAX, Default) == 1 ? Default : null;
        }
        catch (DllNotFoundException) { return null; }
        catch (EntryPointNotFoundException) { return null; }
    }
}
