using Akka.Actor;
using Akka.Sync.Actors.Conversations;
using Akka.Sync.Actors.Tests.Support;
using Akka.Sync.Protocol;
using Xunit;
using Xunit.Abstractions;
using static Akka.Sync.Protocol.ConversationCommands;
using static Akka.Sync.Protocol.ConversationReplies;

namespace Akka.Sync.Actors.Tests.Edges;

/// <summary>
/// CONTRACT §7: a write that reaches its conversation after its caller stopped waiting (its deadline) is answered "not
/// applied" and never stored, so the caller's 503 holds for good; one in time is stored as always.
/// </summary>
public sealed class WriteDeadlineTests(ITestOutputHelper output) : SqliteActorTest(output)
{
    private static long Past => DateTime.UtcNow.AddSeconds(-1).Ticks;

    [Fact]
    public void Writes_past_their_deadline_are_answered_unavailable_and_nothing_is_stored()
    {
        var region = Region(Settings());
        var id = CreateConversation(region);
        AppendOk(region, id, 2);
        var rows = JournalRows(id);
        var message = new UserMessage("""[{"type":"text","text":"late"}]"""u8.ToArray(), Run: true);

        region.Tell(new SendMessage(id, message) { DeadlineTicks = Past });
        var late = ExpectMsg<CommandResult>(Wait);
        Assert.Equal(ResultCode.Unavailable, late.Code);
        Assert.Contains("not applied", late.Detail);
        region.Tell(new AppendEvents(id, Events(3)) { DeadlineTicks = Past });
        Assert.Equal(ResultCode.Unavailable, ExpectMsg<AppendResult>(Wait).Code);
        region.Tell(new Run(id) { DeadlineTicks = Past });
        Assert.Equal(ResultCode.Unavailable, ExpectMsg<CommandResult>(Wait).Code);

        Assert.Equal(2, Count(region, id));
        Assert.Equal(rows, JournalRows(id));
    }

    [Fact]
    public void A_create_past_its_deadline_creates_nothing()
    {
        var region = Region(Settings());
        var id = ConversationId.New();
        region.Tell(new Create(id, Dialect.V1, "late", null, ConversationState.HashKey("k")) { DeadlineTicks = Past });
        Assert.Equal(ResultCode.Unavailable, ExpectMsg<CreateResult>(Wait).Code);
        region.Tell(new ConversationQueries.GetInfo(id));
        Assert.Equal(ResultCode.NotFound, ExpectMsg<InfoResult>(Wait).Code);
    }

    [Fact]
    public void A_write_within_its_deadline_is_stored_as_always()
    {
        var region = Region(Settings());
        var id = CreateConversation(region);
        region.Tell(new AppendEvents(id, Events(3)) { DeadlineTicks = DateTime.UtcNow.AddSeconds(30).Ticks });
        Assert.Equal(ResultCode.Ok, ExpectMsg<AppendResult>(Wait).Code);
        Assert.Equal(3, Count(region, id));
    }
}

/// <summary>
/// The bug the deadline fixes, end to end on a real SQLite journal: the journal is unreachable while a conversation
/// recovers, so a write waits in its stash past the moment its caller answered 503; when the journal is back the entity
/// recovers and takes the write — and must drop it. (The journal's connections are not pooled here, so the test can hold
/// the database file exclusively; the server pools them.)
/// </summary>
public sealed class SlowRecoveryDeadlineTests(ITestOutputHelper output) : SqliteActorTest(output, file => $$"""
    akka.persistence.journal.sql.connection-string = "Data Source={{file}};Pooling=False"
    akka.persistence.snapshot-store.sql.connection-string = "Data Source={{file}};Pooling=False"
    """)
{
    [Fact]
    public void A_write_stashed_past_its_deadline_while_the_journal_was_down_is_dropped_when_it_comes_back()
    {
        var region = Region(Settings());
        var id = CreateConversation(region);
        AppendOk(region, id, 2);
        RestartEntity(region, id); // the next message starts a fresh incarnation, which must recover first
        var rows = JournalRows(id);

        using (var holder = OpenDatabase())
        {
            // Exclusive locking mode on a WAL database: no other connection reads or writes until this one closes.
            foreach (var sql in new[] { "PRAGMA locking_mode=EXCLUSIVE", "BEGIN EXCLUSIVE" })
            {
                using var take = holder.CreateCommand();
                take.CommandText = sql;
                take.ExecuteNonQuery();
            }
            var message = new UserMessage("""[{"type":"text","text":"sent into a slow journal"}]"""u8.ToArray(), Run: true);
            // Its caller waits one second (and would answer 503 then); the entity cannot even recover meanwhile.
            region.Tell(new SendMessage(id, message) { DeadlineTicks = DateTime.UtcNow.AddMilliseconds(500).Ticks });
            region.Tell(new AppendEvents(id, Events(3)) { DeadlineTicks = DateTime.UtcNow.AddMilliseconds(500).Ticks });
            ExpectNoMsg(TimeSpan.FromSeconds(1.5));
        } // the journal is back

        var late = ExpectMsg<CommandResult>(TimeSpan.FromSeconds(40));
        Assert.Equal(ResultCode.Unavailable, late.Code);
        Assert.Equal(ResultCode.Unavailable, ExpectMsg<AppendResult>(Wait).Code);
        Assert.Equal(2, Count(region, id));
        Assert.Equal(rows, JournalRows(id));
    }
}
