using System.Text;
using System.Text.Json;
using Akka.Actor;
using Akka.Sync.Actors.Agents;
using Akka.Sync.Actors.Conversations;
using Akka.Sync.Protocol;
using Xunit;
using Xunit.Abstractions;

namespace Akka.Sync.Actors.Tests.Agents;

/// <summary>
/// The demo agent's run plan (CONTRACT §9): a paused run resumes where it stopped instead of starting over, a resumed
/// run with nothing left to say just finishes, and its terminal observation carries the metadata clients read.
/// </summary>
public sealed class DemoAgentActorTests(ITestOutputHelper output) : Akka.TestKit.Xunit2.TestKit(output: output)
{
    private static byte[] UserMessage(string text) =>
        Encoding.UTF8.GetBytes($$$"""{"llm_message":{"role":"user","content":[{"type":"text","text":"{{{text}}}"}]}}""");

    private static string Text(Draft message) =>
        JsonDocument.Parse(message.Body).RootElement.GetProperty("llm_message").GetProperty("content")[0].GetProperty("text").GetString()!;

    [Fact]
    public void A_paused_run_resumes_at_the_refused_step_and_answers_the_original_words_once()
    {
        var agent = ChildActorOf(DemoAgentActor.Props(TimeSpan.Zero));
        agent.Tell(new DemoAgentActor.StartRun(1, Dialect.V1, UserMessage("first words")));
        var action = ExpectMsg<DemoAgentActor.Step>();
        Assert.Equal("ActionEvent", action.Drafts.Single().Kind);
        agent.Tell(new DemoAgentActor.StepDone(1));
        var observation = ExpectMsg<DemoAgentActor.Step>();
        Assert.Equal("ObservationEvent", observation.Drafts.Single().Kind);
        // The pause lands: the entity refuses the step.
        agent.Tell(new DemoAgentActor.StepRefused(1));
        ExpectNoMsg(TimeSpan.FromMilliseconds(200));

        // Run again without a new message: the refused observation comes first, then the answer, nothing repeated.
        agent.Tell(new DemoAgentActor.StartRun(2, Dialect.V1, null));
        var resumed = ExpectMsg<DemoAgentActor.Step>();
        Assert.Equal(2, resumed.RunId);
        Assert.Same(observation.Drafts, resumed.Drafts);
        agent.Tell(new DemoAgentActor.StepDone(2));
        var answer = ExpectMsg<DemoAgentActor.Step>();
        Assert.Equal(["MessageEvent", "ConversationStateUpdateEvent"], answer.Drafts.Select(d => d.Kind));
        Assert.StartsWith("You said: \"first words\"", Text(answer.Drafts[0]));
        agent.Tell(new DemoAgentActor.StepDone(2));
        ExpectNoMsg(TimeSpan.FromMilliseconds(200));
    }

    [Fact]
    public void A_resumed_run_whose_answer_was_given_only_finishes()
    {
        var agent = ChildActorOf(DemoAgentActor.Props(TimeSpan.Zero));
        agent.Tell(new DemoAgentActor.StartRun(1, Dialect.V1, null));
        var step = ExpectMsg<DemoAgentActor.Step>();
        var finished = Assert.Single(step.Drafts);
        Assert.Equal("ConversationStateUpdateEvent", finished.Kind);
        Assert.Contains("\"finished\"", Encoding.UTF8.GetString(finished.Body));
        agent.Tell(new DemoAgentActor.StepDone(1));
        ExpectNoMsg(TimeSpan.FromMilliseconds(200));
    }

    [Fact]
    public void A_new_message_replaces_what_a_paused_run_left()
    {
        var agent = ChildActorOf(DemoAgentActor.Props(TimeSpan.Zero));
        agent.Tell(new DemoAgentActor.StartRun(1, Dialect.V1, UserMessage("old")));
        ExpectMsg<DemoAgentActor.Step>();
        agent.Tell(new DemoAgentActor.StepRefused(1));
        agent.Tell(new DemoAgentActor.StartRun(2, Dialect.V1, UserMessage("new")));
        Assert.Equal("ActionEvent", ExpectMsg<DemoAgentActor.Step>().Drafts.Single().Kind);
        agent.Tell(new DemoAgentActor.StepDone(2));
        ExpectMsg<DemoAgentActor.Step>();
        agent.Tell(new DemoAgentActor.StepDone(2));
        Assert.StartsWith("You said: \"new\"", Text(ExpectMsg<DemoAgentActor.Step>().Drafts[0]));
    }

    [Fact]
    public void The_terminal_observation_carries_every_metadata_field_of_the_sdk_terminal_observation()
    {
        var observation = DemoAgentActor.Plan("x").ElementAt(1).Single();
        using var doc = JsonDocument.Parse(observation.Body);
        var o = doc.RootElement.GetProperty("observation");
        Assert.Equal(0, o.GetProperty("exit_code").GetInt32());
        var metadata = o.GetProperty("metadata");
        Assert.Equal(0, metadata.GetProperty("exit_code").GetInt32());
        Assert.Equal(-1, metadata.GetProperty("pid").GetInt32());
        foreach (var field in new[] { "username", "hostname", "working_dir", "py_interpreter_path", "prefix", "suffix" })
            Assert.True(metadata.TryGetProperty(field, out _), field);
        Assert.Equal(JsonValueKind.Null, o.GetProperty("full_output_save_dir").ValueKind);
        Assert.Equal(EventSources.Environment, observation.Source);
    }
}
