using Akka.Sync.Gateway.Transport;
using Xunit;

namespace Akka.Sync.Gateway.Tests;

/// <summary>A socket's send queue on its own: order, a waiting reader woken by a write, completion, bursts.</summary>
public sealed class SendQueueTests
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(10);

    [Fact]
    public async Task A_reader_gets_every_item_of_several_writers_once_each_in_each_writers_order()
    {
        var queue = new SendQueue<(int Writer, int N)>();
        var reader = Task.Run(async () =>
        {
            var last = new[] { -1, -1, -1, -1 };
            var count = 0;
            while (await queue.WaitToReadAsync())
                while (queue.TryRead(out var item))
                {
                    Assert.Equal(last[item.Writer] + 1, item.N);
                    last[item.Writer] = item.N;
                    count++;
                }
            return count;
        });
        await Task.WhenAll(Enumerable.Range(0, 4).Select(w => Task.Run(() =>
        {
            for (var n = 0; n < 20_000; n++) Assert.True(queue.TryWrite((w, n)));
        })));
        queue.Complete();
        Assert.Equal(80_000, await reader.WaitAsync(Wait));
    }

    [Fact]
    public async Task A_waiting_reader_wakes_on_a_write_and_on_completion_after_the_items_queued_before_it()
    {
        var queue = new SendQueue<int>();
        var wait = queue.WaitToReadAsync().AsTask();
        Assert.False(wait.IsCompleted);
        Assert.True(queue.TryWrite(1));
        Assert.True(await wait.WaitAsync(Wait));
        Assert.True(queue.TryRead(out var one));
        Assert.Equal(1, one);

        var second = queue.WaitToReadAsync().AsTask();
        Assert.True(queue.TryWrite(2));
        queue.Complete();
        Assert.False(queue.TryWrite(3));
        Assert.True(await second.WaitAsync(Wait));
        Assert.True(queue.TryRead(out var two));
        Assert.Equal(2, two);
        Assert.False(queue.TryRead(out _));
        Assert.False(await queue.WaitToReadAsync().AsTask().WaitAsync(Wait));
    }

    [Fact]
    public async Task A_completion_wakes_a_waiting_reader_with_false()
    {
        var queue = new SendQueue<int>();
        var wait = queue.WaitToReadAsync().AsTask();
        queue.Complete();
        Assert.False(await wait.WaitAsync(Wait));
    }
}

/// <summary>The open-file limit the node compares with <c>Limits:MaxSocketsPerNode</c> at start.</summary>
public sealed class DescriptorLimitTests
{
    private const string Limits = """
        Limit                     Soft Limit           Hard Limit           Units
        Max processes             unlimited            unlimited            processes
        Max open files            20000                20000                files
        Max locked memory         8388608              8388608              bytes
        """;

    [Fact]
    public void The_soft_open_file_limit_is_read_from_proc_limits()
    {
        Assert.Equal(20_000, Akka.Sync.Gateway.Transport.SocketBudget.DescriptorLimit(Limits));
        Assert.Equal(long.MaxValue, Akka.Sync.Gateway.Transport.SocketBudget.DescriptorLimit(Limits.Replace("20000                20000", "unlimited            unlimited")));
        Assert.Null(Akka.Sync.Gateway.Transport.SocketBudget.DescriptorLimit("nothing here"));
        // On this machine: whatever it is, it is read.
        if (OperatingSystem.IsLinux()) Assert.NotNull(Akka.Sync.Gateway.Transport.SocketBudget.DescriptorLimit());
    }
}
