using Akka.Actor;
using Akka.Sync.Actors.Connections;
using Xunit;

namespace Akka.Sync.Actors.Tests;

/// <summary>The connection actor's small mailbox: every message once, in send order, from several senders, across bursts.</summary>
public sealed class ConnectionMailboxTests() : Akka.TestKit.Xunit2.TestKit(ConnectionMailbox.Hocon)
{
    private sealed class Recorder : ReceiveActor
    {
        public Recorder(IActorRef report)
        {
            var seen = new Dictionary<int, int>();
            Receive<(int Sender, int N)>(m =>
            {
                var last = seen.GetValueOrDefault(m.Sender, -1);
                if (m.N != last + 1) report.Tell($"out of order: sender {m.Sender} sent {m.N} after {last}");
                seen[m.Sender] = m.N;
                if (seen.Count == 4 && seen.Values.All(v => v == 4_999)) report.Tell("all");
            });
        }
    }

    [Fact]
    public void Messages_from_several_senders_arrive_once_each_in_their_order()
    {
        var recorder = Sys.ActorOf(Props.Create(() => new Recorder(TestActor)).WithMailbox(ConnectionMailbox.ConfigPath));
        Parallel.For(0, 4, sender =>
        {
            for (var n = 0; n < 5_000; n++) recorder.Tell((sender, n));
        });
        ExpectMsg("all", TimeSpan.FromSeconds(15));
        // A drained queue gives its burst's array back and goes on working.
        recorder.Tell((0, 5_000));
        ExpectNoMsg(TimeSpan.FromMilliseconds(200));
    }

    [Fact]
    public void The_queue_gives_back_a_burst_once_drained_and_keeps_order_after()
    {
        var queue = new ConnectionMailbox.MessageQueue();
        for (var round = 0; round < 3; round++)
        {
            for (var n = 0; n < 1_000; n++) queue.Enqueue(ActorRefs.Nobody, new Envelope(n, ActorRefs.NoSender));
            Assert.Equal(1_000, queue.Count);
            for (var n = 0; n < 1_000; n++)
            {
                Assert.True(queue.TryDequeue(out var e));
                Assert.Equal(n, e.Message);
            }
            Assert.False(queue.HasMessages);
            Assert.False(queue.TryDequeue(out _));
        }
    }
}
