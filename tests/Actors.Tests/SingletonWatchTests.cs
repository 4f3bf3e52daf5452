using Akka.Actor;
using Akka.Sync.Actors.Hosting;
using Akka.TestKit;
using Xunit;
using Xunit.Abstractions;

namespace Akka.Sync.Actors.Tests;

/// <summary>
/// <see cref="SingletonWatch"/>: it asks each singleton a query through its proxy, again a period after each answer;
/// it warns only when a query has gone unanswered for the whole period, and says when the singleton answers again.
/// The proxies here are test probes that answer or stay silent as each test needs.
/// </summary>
public sealed class SingletonWatchTests(ITestOutputHelper output) : Akka.TestKit.Xunit2.TestKit(output: output)
{
    private IActorRef Watch(TimeSpan period, params SingletonWatch.Singleton[] singletons) =>
        Sys.ActorOf(Props.Create(() => new SingletonWatch(singletons, period, false)));

    private SingletonWatch.Answers Answers(IActorRef watch) =>
        watch.Ask<SingletonWatch.Answers>(SingletonWatch.Probe.Instance, RemainingOrDefault).Result;

    [Fact]
    public void A_singleton_that_answers_is_asked_again_a_period_after_each_answer_and_never_warned_about()
    {
        var proxy = CreateTestProbe();
        // A period long enough that a busy machine's test thread answers well inside it.
        EventFilter.Warning(contains: "has not answered").Expect(0, TimeSpan.FromSeconds(5), () =>
        {
            var watch = Watch(TimeSpan.FromSeconds(2), new SingletonWatch.Singleton("directory", proxy.Ref, "count?"));
            var clock = System.Diagnostics.Stopwatch.StartNew();
            for (var i = 0; i < 2; i++)
            {
                proxy.ExpectMsg("count?", TimeSpan.FromSeconds(5));
                proxy.Reply(i);
            }
            Assert.True(clock.Elapsed >= TimeSpan.FromSeconds(2), $"asked again {clock.Elapsed} after the first query, before a period");
            AwaitAssert(() => Assert.Equal(new SingletonWatch.Answers(2, 0), Answers(watch)), TimeSpan.FromSeconds(1));
            // Stopped before its fourth query, which nobody here answers, could be warned about.
            Watch(watch);
            Sys.Stop(watch);
            ExpectTerminated(watch);
        });
    }

    [Fact]
    public void A_singleton_that_stays_silent_for_a_period_is_warned_about_by_name_and_its_answer_is_noticed()
    {
        var answering = CreateTestProbe();
        var silent = CreateTestProbe();
        IActorRef watch = ActorRefs.Nobody;
        EventFilter.Warning(contains: "The client-preferences singleton has not answered through its proxy for 1 s").ExpectOne(TimeSpan.FromSeconds(5), () =>
        {
            watch = Watch(TimeSpan.FromSeconds(1), new SingletonWatch.Singleton("conversation-directory", answering.Ref, "count?"),
                new SingletonWatch.Singleton("client-preferences", silent.Ref, "get?"));
            answering.ExpectMsg("count?");
            answering.Reply(0L);
            silent.ExpectMsg("get?"); // not answered: the warning a period later
        });
        Assert.Equal(1, Answers(watch).Missing);

        // The watch asks again at once; this time the singleton answers.
        EventFilter.Info(contains: "The client-preferences singleton answers through its proxy again").ExpectOne(TimeSpan.FromSeconds(5), () =>
        {
            silent.ExpectMsg("get?", TimeSpan.FromSeconds(5));
            silent.Reply("{}");
        });
        AwaitAssert(() => Assert.Equal(0, Answers(watch).Missing), TimeSpan.FromSeconds(5));
    }
}
