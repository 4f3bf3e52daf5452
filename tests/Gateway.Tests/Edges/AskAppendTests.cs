using Akka.Actor;
using Akka.Sync.Gateway.Endpoints;
using Akka.Sync.Gateway.Settings;
using Akka.Sync.Protocol;
using Xunit;
using static Akka.Sync.Protocol.ConversationReplies;

namespace Akka.Sync.Gateway.Tests.Edges;

/// <summary>
/// <see cref="Http.AskAppend"/>: an agent batch that goes unanswered (a shard region dropped it during a hand-off) is
/// sent again, with the same ids and the same deadline, until its deadline; an answer of any kind ends the sending.
/// The conversation is played by a scripted actor that records every copy it gets.
/// </summary>
public sealed class AskAppendTests : IAsyncLifetime
{
    private ActorSystem _system = null!;
    private static readonly LimitSettings Limits = new() { AskTimeout = TimeSpan.FromSeconds(2) };

    public Task InitializeAsync()
    {
        _system = ActorSystem.Create("ask-append-tests");
        return Task.CompletedTask;
    }

    public async Task DisposeAsync() => await _system.Terminate();

    /// <summary>Ignores the first <c>drop</c> copies, then answers each with <c>answer</c>; every copy is recorded.</summary>
    private sealed class Conversation : ReceiveActor
    {
        public Conversation(int drop, AppendResult answer, List<ConversationCommands.AppendEvents> copies) =>
            Receive<ConversationCommands.AppendEvents>(a =>
            {
                int count;
                lock (copies)
                {
                    copies.Add(a);
                    count = copies.Count;
                }
                if (count > drop) Sender.Tell(answer);
            });
    }

    private static ConversationCommands.AppendEvents Batch() => new(ConversationId.New(),
        [new IncomingEvent("MessageEvent", "agent", Guid.NewGuid().ToString("D"), "{}"u8.ToArray())]);

    private (IActorRef Target, List<ConversationCommands.AppendEvents> Copies) Script(int drop, AppendResult answer)
    {
        var copies = new List<ConversationCommands.AppendEvents>();
        return (_system.ActorOf(Props.Create(() => new Conversation(drop, answer, copies))), copies);
    }

    [Fact]
    public async Task A_lost_batch_is_sent_again_with_its_ids_and_deadline_and_the_answer_to_the_copy_is_returned()
    {
        var ok = new AppendResult(ResultCode.Ok, null, [new AppendedItem("x", 1)]);
        var (target, copies) = Script(drop: 1, ok);
        var batch = Batch();
        var (reply, error) = await Http.AskAppend(target, batch, Limits);
        Assert.Null(error);
        Assert.Equal(ResultCode.Ok, reply!.Code);
        lock (copies)
        {
            // The second copy is answered; a third may have gone if that answer was slow (a busy machine).
            Assert.True(copies.Count >= 2, $"{copies.Count} copies");
            Assert.All(copies, c => Assert.Same(batch.Events, c.Events));
            Assert.NotEqual(0, copies[0].DeadlineTicks);
            Assert.All(copies, c => Assert.Equal(copies[0].DeadlineTicks, c.DeadlineTicks));
        }
    }

    [Fact]
    public async Task A_refusal_is_returned_at_once_and_nothing_is_sent_again()
    {
        var unavailable = new AppendResult(ResultCode.Unavailable, "journal unavailable", []);
        var (target, copies) = Script(drop: 0, unavailable);
        var (reply, error) = await Http.AskAppend(target, Batch(), Limits);
        Assert.Null(error);
        Assert.Equal(ResultCode.Unavailable, reply!.Code);
        // "At once" is shown by the count, not by a clock: had the refusal waited for a resend, a second copy would
        // have gone out (every fifth of the ask timeout) before it.
        lock (copies) Assert.Single(copies);
    }

    [Fact]
    public async Task Silence_is_a_503_after_the_ask_timeout_and_no_copy_is_sent_past_the_deadline()
    {
        var (target, copies) = Script(drop: int.MaxValue, new AppendResult(ResultCode.Ok, null, []));
        var limits = new LimitSettings { AskTimeout = TimeSpan.FromSeconds(5) };
        var sw = System.Diagnostics.Stopwatch.StartNew();
        var (reply, error) = await Http.AskAppend(target, Batch(), limits);
        Assert.Null(reply);
        Assert.NotNull(error);
        Assert.True(sw.Elapsed >= limits.AskTimeout - TimeSpan.FromMilliseconds(50), $"gave up after {sw.Elapsed}");
        lock (copies)
        {
            // Copies at 0, 1 and 2 s (a fifth of 5 s), none at or after the deadline (2.5 s).
            Assert.True(copies.Count is 2 or 3, $"{copies.Count} copies");
            Assert.All(copies, c => Assert.Equal(copies[0].DeadlineTicks, c.DeadlineTicks));
        }
    }
}
