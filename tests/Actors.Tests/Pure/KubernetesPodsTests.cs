using Akka.Sync.Actors.Hosting;
using Xunit;

namespace Akka.Sync.Actors.Tests.Pure;

/// <summary>Which pods of a Kubernetes pod list become seed nodes.</summary>
public sealed class KubernetesPodsTests
{
    private static object Pod(string ip, string phase, int? remotingPort, bool terminating = false) => new
    {
        metadata = new { name = "p-" + ip, deletionTimestamp = terminating ? "2026-11-25T00:00:00Z" : null },
        spec = new { containers = new[] { new { name = "akka-sync", ports = remotingPort is { } p
            ? new object[] { new { name = "http", containerPort = 8000 }, new { name = "remoting", containerPort = p } }
            : [new { name = "http", containerPort = 8000 }] } } },
        status = ip.Length > 0 ? (object)new { phase, podIP = ip } : new { phase },
    };

    private static string List(params object[] pods) => System.Text.Json.JsonSerializer.Serialize(new { kind = "PodList", items = pods });

    [Fact]
    public void Only_running_pods_that_are_not_terminating_and_have_the_named_port_are_seeds()
    {
        var list = List(
            Pod("10.0.0.1", "Running", 4053),
            Pod("10.0.0.2", "Pending", 4053),
            Pod("10.0.0.3", "Running", 4053, terminating: true),
            Pod("10.0.0.4", "Running", null),
            Pod("", "Running", 4053),
            Pod("10.0.0.5", "Running", 4054));

        var endpoints = KubernetesPods.Parse(list, "remoting");

        Assert.Equal([("10.0.0.1", 4053), ("10.0.0.5", 4054)], endpoints);
    }

    [Fact]
    public void An_empty_pod_list_has_no_seeds()
    {
        Assert.Empty(KubernetesPods.Parse(List(), "remoting"));
    }
}
