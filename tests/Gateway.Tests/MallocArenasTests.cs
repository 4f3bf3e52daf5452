using Xunit;

namespace Akka.Sync.Gateway.Tests;

/// <summary>
/// The malloc arena cap applied first in <c>Main</c> (<see cref="MallocArenas"/>): glibc takes it on Linux, and an operator's
/// own <c>MALLOC_ARENA_MAX</c> wins. Its effect on a node's memory is measured by the benchmark (docs/benchmarks.md, a node at rest).
/// </summary>
public sealed class MallocArenasTests
{
    [Fact]
    public void On_linux_glibc_takes_the_cap_of_two_arenas()
    {
        if (!OperatingSystem.IsLinux())
        {
            Assert.Null(MallocArenas.Limit(null)); // nothing to cap elsewhere
            return;
        }
        Assert.Equal(MallocArenas.Default, MallocArenas.Limit(null));
        Assert.Equal(MallocArenas.Default, MallocArenas.Limit(""));
    }

    [Theory]
    [InlineData("1")]
    [InlineData("8")]
    public void A_cap_set_in_the_environment_is_left_to_glibc(string configured) =>
        Assert.Null(MallocArenas.Limit(configured));
}
