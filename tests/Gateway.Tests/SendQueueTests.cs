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

    /// <summary>
    /// A reader waiting for an item written <c>inline</c> continues on the writer's thread within the write (an idle
    /// socket's pump sends without a thread-pool hop); otherwise, and on completion, it continues on the thread pool.
    /// The writers are threads of their own, so a continuation queued to the pool can never run on them.
    /// </summary>
    [Fact]
    public async Task A_reader_woken_by_an_inline_write_runs_within_the_write_and_otherwise_on_the_thread_pool()
    {
        var queue = new SendQueue<int>();
        var resumedOn = new List<(int Item, int Thread, bool WithinWrite)>();
        var withinWrite = false;
        var reader = Task.Run(async () =>
        {
            while (await queue.WaitToReadAsync().ConfigureAwait(false))
                while (queue.TryRead(out var item))
                    lock (resumedOn) resumedOn.Add((item, Environment.CurrentManagedThreadId, Volatile.Read(ref withinWrite)));
            return Environment.CurrentManagedThreadId; // where the completion resumed it
        });
        // Waits until the reader is parked with its continuation registered (an item written before that is simply there
        // when its await looks, and it goes on on its own thread).
        SpinWait.SpinUntil(() => queue.IsReaderParked, Wait);

        int OnOwnThread(Action write)
        {
            var id = 0;
            var thread = new Thread(() =>
            {
                id = Environment.CurrentManagedThreadId;
                Volatile.Write(ref withinWrite, true);
                write();
                Volatile.Write(ref withinWrite, false);
            });
            thread.Start();
            thread.Join();
            return id;
        }

        var inlineWriter = OnOwnThread(() => queue.TryWrite(1, inline: true));
        lock (resumedOn) Assert.Equal([(1, inlineWriter, true)], resumedOn); // already sent when the write returned
        SpinWait.SpinUntil(() => queue.IsReaderParked, Wait);

        var pooledWriter = OnOwnThread(() => queue.TryWrite(2));
        SpinWait.SpinUntil(() => { lock (resumedOn) return resumedOn.Count == 2; }, Wait);
        lock (resumedOn) Assert.NotEqual(pooledWriter, resumedOn[1].Thread);
        SpinWait.SpinUntil(() => queue.IsReaderParked, Wait);

        var completer = OnOwnThread(queue.Complete);
        Assert.NotEqual(completer, await reader.WaitAsync(Wait));
    }

    /// <summary>
    /// An idle socket's pump writes an event frame to the socket on the thread that queued it, before the call returns
    /// (no thread-pool hop per socket per burst; bench/NOTES.md, "Issue 15, tenth sitting"); a close still goes through
    /// the thread pool.
    /// </summary>
    [Fact]
    public async Task An_idle_transport_writes_an_event_frame_on_the_thread_that_queued_it()
    {
        var stream = new RecordingStream();
        using var socket = ServerSocketOver(stream);
        var transport = Started(socket, new Settings.LimitSettings());

        var queuedOn = 0;
        var accepted = false;
        var thread = new Thread(() =>
        {
            queuedOn = Environment.CurrentManagedThreadId;
            accepted = transport.TryEnqueueBounded("{\"kind\":\"Event\"}"u8.ToArray());
        });
        thread.Start();
        thread.Join();
        Assert.True(accepted);
        var (written, on) = Assert.Single(stream.Writes);
        Assert.Equal(queuedOn, on);
        Assert.Equal(0x81, written[0]); // one unmasked text frame, final
        Assert.Equal("{\"kind\":\"Event\"}", System.Text.Encoding.UTF8.GetString(written, 2, written.Length - 2));
        Assert.Equal(1, transport.FramesSent);

        transport.Close(1000, "bye");
        await transport.Completion.WaitAsync(Wait);
        Assert.Equal(2, stream.Writes.Count);
        Assert.Equal(0x88, stream.Writes[1].Bytes[0]); // the close frame
    }

    /// <summary>
    /// Frames go to the socket without a cancellable token: with one, ManagedWebSocket takes its fallback path on every
    /// send (a token registration per frame, and the token handed to the stream's write and flush, which register it
    /// again), the cost that kept the fan-out's CPU per delivery above bare Kestrel's (bench/NOTES.md, "Issue 15,
    /// eleventh sitting"). Fails with the token passed.
    /// </summary>
    [Fact]
    public async Task A_frame_reaches_the_stream_without_a_cancellable_token()
    {
        var stream = new RecordingStream();
        using var socket = ServerSocketOver(stream);
        var transport = Started(socket, new Settings.LimitSettings());

        for (var i = 0; i < 3; i++) Assert.True(transport.TryEnqueueBounded("{\"kind\":\"Event\"}"u8.ToArray()));
        Assert.Equal(3, stream.Writes.Count);
        Assert.Equal(0, stream.CancellableTokens);

        transport.Close(1000, "bye");
        await transport.Completion.WaitAsync(Wait);
        Assert.Equal(0x88, stream.Writes[^1].Bytes[0]);
    }

    /// <summary>
    /// Without a token, a send that never completes (the peer's TCP window stays full) ends only by aborting the socket:
    /// the send deadline aborts it, and so does the close timeout when the frames before a close do not go. Each stops the
    /// pump. Fails if either only cancels a token no send listens to (the pump would wait on the stuck write forever).
    /// </summary>
    [Theory]
    [InlineData("send deadline")]
    [InlineData("close timeout")]
    public async Task A_send_that_never_completes_is_ended_by_aborting_the_socket(string by)
    {
        var stream = new RecordingStream { HoldWrites = true };
        using var socket = ServerSocketOver(stream);
        var transport = Started(socket, new Settings.LimitSettings { SendTimeout = TimeSpan.FromSeconds(1), CloseTimeout = TimeSpan.FromMilliseconds(200) });

        Assert.True(transport.TryEnqueueBounded("{\"kind\":\"Event\"}"u8.ToArray()));
        Assert.Single(stream.Writes); // written, never completed
        Assert.False(transport.Completion.IsCompleted);
        if (by == "send deadline")
        {
            // The sweep times a send from when it first sees it in progress: not stuck then, nor half a second later.
            var now = System.Diagnostics.Stopwatch.GetTimestamp();
            Assert.False(transport.AbortIfSendStuck(now));
            Assert.False(transport.AbortIfSendStuck(now + System.Diagnostics.Stopwatch.Frequency / 2));
            Assert.False(transport.Completion.IsCompleted);
            Assert.True(transport.AbortIfSendStuck(now + System.Diagnostics.Stopwatch.Frequency));
            Assert.True(transport.SendTimedOut);
        }
        else
        {
            transport.Close(1000, "bye");
        }
        await transport.Completion.WaitAsync(Wait);
        Assert.Equal(System.Net.WebSockets.WebSocketState.Aborted, socket.State);
        Assert.Single(stream.Writes); // no close frame went: the socket was aborted
    }

    private static System.Net.WebSockets.WebSocket ServerSocketOver(Stream stream) =>
        System.Net.WebSockets.WebSocket.CreateFromStream(stream, isServer: true, subProtocol: null, TimeSpan.Zero);

    private static WebSocketTransport Started(System.Net.WebSockets.WebSocket socket, Settings.LimitSettings limits)
    {
        var transport = new WebSocketTransport(socket, limits);
        transport.Start();
        return transport;
    }

    /// <summary>
    /// A stream that records each write, the thread it came from and whether it was given a cancellable token, and
    /// never has anything to read. With <see cref="HoldWrites"/>, an async write never completes until the stream is
    /// disposed (as Kestrel's does when its socket is aborted), like a peer whose TCP window stays full.
    /// </summary>
    private sealed class RecordingStream : Stream
    {
        private readonly List<(byte[] Bytes, int Thread)> _writes = [];
        private readonly TaskCompletionSource _disposed = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private int _cancellableTokens;

        public bool HoldWrites { get; init; }

        public int CancellableTokens => Volatile.Read(ref _cancellableTokens);

        private void Saw(CancellationToken token)
        {
            if (token.CanBeCanceled) Interlocked.Increment(ref _cancellableTokens);
        }

        protected override void Dispose(bool disposing)
        {
            _disposed.TrySetResult();
            base.Dispose(disposing);
        }

        public List<(byte[] Bytes, int Thread)> Writes
        {
            get { lock (_writes) return [.. _writes]; }
        }

        public override void Write(byte[] buffer, int offset, int count) => Write(buffer.AsSpan(offset, count));

        public override void Write(ReadOnlySpan<byte> buffer)
        {
            lock (_writes) _writes.Add((buffer.ToArray(), Environment.CurrentManagedThreadId));
        }

        public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
        {
            Saw(cancellationToken);
            Write(buffer.Span);
            return HoldWrites ? new ValueTask(HeldAsync()) : ValueTask.CompletedTask;
        }

        private async Task HeldAsync()
        {
            await _disposed.Task;
            throw new ObjectDisposedException(nameof(RecordingStream));
        }

        public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
            WriteAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

        public override void Flush() { }
        public override Task FlushAsync(CancellationToken cancellationToken)
        {
            Saw(cancellationToken);
            return Task.CompletedTask;
        }
        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
        public override bool CanRead => true;
        public override bool CanSeek => false;
        public override bool CanWrite => true;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }
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
