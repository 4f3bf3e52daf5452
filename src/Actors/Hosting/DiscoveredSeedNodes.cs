using System.Net;
using Akka.Actor;
using Akka.Configuration;
using Akka.Discovery;
using Akka.Event;
using Akka.Hosting;

namespace Akka.Sync.Actors.Hosting;

/// <summary>
/// Seed nodes from service discovery: the Kubernetes API (pods with the service's label, <see cref="KubernetesPods"/>)
/// or a static endpoint list (Akka.Discovery's config method).
/// Every node looks the service up until it sees <see cref="ClusterSettings.RequiredContactPoints"/> nodes, sorts their
/// remoting addresses and hands them to Akka's own seed-node join. All nodes therefore agree on the first seed: only
/// it may form a new cluster, and only if no other seed answers; a node started later (or the first one restarted)
/// joins the cluster that is already there.
/// </summary>
public static class DiscoveredSeedNodes
{
    public static AkkaConfigurationBuilder AddDiscoveredSeedNodes(this AkkaConfigurationBuilder builder, ClusterSettings cluster, string systemName)
    {
        if (cluster.Discovery == ClusterDiscovery.Config)
        {
            var endpoints = string.Join(", ", cluster.DiscoveryEndpoints.Select(e => $"\"{e}\""));
            builder.AddHocon(ConfigurationFactory.ParseString($$"""
                akka.discovery.config.services."{{cluster.ServiceName}}".endpoints = [{{endpoints}}]
                """), HoconAddMode.Prepend);
        }
        builder.AddStartup((system, registry) =>
        {
            // In the background: the host must start (and /ready answer "not yet") while pods are still appearing.
            _ = JoinAsync(system, cluster, systemName);
            return Task.CompletedTask;
        });
        return builder;
    }

    private static async Task JoinAsync(ActorSystem system, ClusterSettings cluster, string systemName)
    {
        var log = Logging.GetLogger(system, typeof(DiscoveredSeedNodes));
        var self = Akka.Cluster.Cluster.Get(system);
        Func<Task<IReadOnlyList<(string Host, int Port)>>> lookup;
        string method;
        if (cluster.Discovery == ClusterDiscovery.Kubernetes)
        {
            method = "kubernetes-api";
            var pods = new KubernetesPods(cluster);
            lookup = () => pods.LookupAsync(CancellationToken.None);
        }
        else
        {
            method = "config";
            var discovery = Akka.Discovery.Discovery.Get(system).LoadServiceDiscovery("config");
            lookup = async () => (await discovery.Lookup(new Lookup(cluster.ServiceName), TimeSpan.FromSeconds(5))).Addresses
                .Select(a => (a.Address?.ToString() ?? a.Host, a.Port ?? self.SelfAddress.Port ?? 0)).ToList();
        }
        while (!system.WhenTerminated.IsCompleted)
        {
            try
            {
                var seeds = (await lookup())
                    .Select(e => new Address("akka.tcp", systemName, e.Host, e.Port))
                    .Distinct()
                    .OrderBy(a => a.Host, StringComparer.Ordinal).ThenBy(a => a.Port)
                    .ToList();
                if (seeds.Count >= cluster.RequiredContactPoints)
                {
                    log.Info("Discovery ({0}) found {1} nodes; joining through seed nodes [{2}]", method, seeds.Count, string.Join(", ", seeds));
                    self.JoinSeedNodes(seeds);
                    return;
                }
                log.Info("Discovery ({0}) found {1} of {2} required nodes; looking again", method, seeds.Count, cluster.RequiredContactPoints);
            }
            catch (Exception e) when (e is InvalidOperationException or HttpRequestException or TaskCanceledException
                                          or System.Text.Json.JsonException or KeyNotFoundException or IOException)
            {
                log.Warning("Discovery ({0}) lookup of {1} failed: {2}", method, cluster.ServiceName, e.Message);
            }
            await Task.Delay(TimeSpan.FromSeconds(1));
        }
    }
}
