using Akka.Sync.Actors.Conversations;
using Akka.Sync.Protocol;
using Akka.Sync.Protocol.V0;
using Xunit;
using static Akka.Sync.Protocol.ConversationReplies;

namespace Akka.Sync.Actors.Tests.Pure;

/// <summary>An agent batch with no actor system: what each input item is answered with, and what is drafted.</summary>
public sealed class ConversationStateAppendTests
{
    private static readonly DateTime Now = new(2026, 11, 24, 12, 0, 0, DateTimeKind.Utc);

    private static ConversationState Created(Dialect dialect = Dialect.V1)
    {
        var id = ConversationId.New();
        return ConversationState.Empty(id).Apply(new ConversationEvents.Created(id, dialect, "t", Now.Ticks, ConversationState.HashKey("key")));
    }

    /// <summary>A state whose log already holds <paramref name="count"/> events.</summary>
    private static ConversationState WithEvents(int count)
    {
        var s = Created();
        var drafts = Enumerable.Range(0, count).Select(_ => new Draft("X", "agent", null, "{}"u8.ToArray())).ToList();
        return s.Stamp(drafts, Now).Aggregate(s, (acc, e) => acc.Apply(e));
    }

    private static IncomingEvent Event(string? id) => new("X", "agent", id, "{}"u8.ToArray());

    private static (Decision.Append Decision, AppendedItem[] Answers) Decide(ConversationState s, IncomingEvent[] batch, Func<string, long?> known)
    {
        var append = Assert.IsType<Decision.Append>(s.DecideAppend(batch, known));
        return (append, append.Answers(s.Stamp(append.Drafts, Now)));
    }

    [Fact]
    public void An_id_already_stored_or_in_flight_is_answered_with_its_seq_and_not_drafted()
    {
        // "stored" is in the log at 2; "writing" is being written at 4 (the log resolves both the same way).
        var s = WithEvents(4);
        var (decision, answers) = Decide(s, [Event("stored"), Event("new"), Event("writing")],
            id => id switch { "stored" => 2, "writing" => 4, _ => null });

        Assert.Equal(["new"], decision.Drafts.Select(d => d.Id));
        Assert.Equal([new AppendedItem("stored", 2), new AppendedItem("new", 5), new AppendedItem("writing", 4)], answers);
    }

    [Fact]
    public void An_id_repeated_within_the_batch_is_drafted_once_and_every_repeat_answers_its_seq()
    {
        var s = WithEvents(1);
        var (decision, answers) = Decide(s, [Event("a"), Event("b"), Event("a"), Event("a")], _ => null);

        Assert.Equal(["a", "b"], decision.Drafts.Select(d => d.Id));
        Assert.Equal([new AppendedItem("a", 2), new AppendedItem("b", 3), new AppendedItem("a", 2), new AppendedItem("a", 2)], answers);
    }

    [Fact]
    public void Events_without_an_id_are_each_drafted_and_answered_with_the_id_they_were_given()
    {
        var s = Created();
        var (decision, answers) = Decide(s, [Event(null), Event("known"), Event(null)], id => id == "known" ? 9 : null);

        Assert.Equal(2, decision.Drafts.Count);
        Assert.Equal([1L, 9L, 2L], answers.Select(a => a.Seq));
        Assert.Equal("known", answers[1].Id);
        Assert.True(Guid.TryParse(answers[0].Id, out _));
        Assert.NotEqual(answers[0].Id, answers[2].Id);
    }

    [Fact]
    public void A_batch_whose_every_id_is_known_drafts_nothing_and_answers_every_item()
    {
        var s = WithEvents(3);
        var (decision, answers) = Decide(s, [Event("x"), Event("y"), Event("x")], id => id == "x" ? 1 : 3);

        Assert.Empty(decision.Drafts);
        Assert.Equal([new AppendedItem("x", 1), new AppendedItem("y", 3), new AppendedItem("x", 1)], answers);
    }

    [Fact]
    public void A_V0_batch_stores_everything_and_answers_each_event_with_its_seq_as_id()
    {
        var s = Created(Dialect.V0);
        var append = Assert.IsType<Decision.Append>(s.DecideV0Append([V0Json.AgentStateChanged(AgentState.Running), V0Json.AgentStateChanged(AgentState.Finished)]));
        var answers = append.Answers(s.Stamp(append.Drafts, Now));

        Assert.Null(append.Items);
        Assert.Equal([new AppendedItem("1", 1), new AppendedItem("2", 2)], answers);
    }

    [Fact]
    public void A_refused_batch_decides_nothing_per_item()
    {
        var v0 = Created(Dialect.V0);
        var refuse = Assert.IsType<Decision.Refuse>(v0.DecideAppend([Event("a")], _ => null));
        Assert.Equal(ResultCode.BadRequest, refuse.Code);
    }

    [Theory]
    [InlineData(5)]   // the earlier drafts are searched one by one
    [InlineData(60)]  // past 16 drafts, through a table
    public void An_id_repeated_within_a_batch_is_drafted_once_and_each_occurrence_is_answered_with_its_seq(int size)
    {
        var ids = Enumerable.Range(0, size).Select(i => Guid.NewGuid().ToString()).ToArray();
        // Every third item repeats an id seen earlier (the first one, the one just before, one from the middle); some have none.
        var batch = Enumerable.Range(0, size).Select(i => i % 3 == 2 ? Event(ids[(i * 7) % i]) : i % 5 == 4 ? Event(null) : Event(ids[i])).ToArray();
        var (append, answers) = Decide(WithEvents(2), batch, _ => null);

        var firstDraftOf = new Dictionary<string, long>();
        var seq = 3L;
        for (var i = 0; i < batch.Length; i++)
        {
            if (batch[i].Id is { } id && firstDraftOf.TryGetValue(id, out var earlier))
            {
                Assert.Equal(earlier, answers[i].Seq);
                continue;
            }
            if (batch[i].Id is { } newId) firstDraftOf[newId] = seq;
            Assert.Equal(seq++, answers[i].Seq);
        }
        Assert.Equal(seq - 3, append.Drafts.Count);
        Assert.Equal(append.Drafts.Where(d => d.Id is not null).Select(d => d.Id).Distinct().Count(), append.Drafts.Count(d => d.Id is not null));
        Assert.True(append.Drafts.Count < size);
    }
}
