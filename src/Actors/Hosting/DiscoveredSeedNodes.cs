using System.Net;
using Akka.Actor;
using Akka.Configuration;
using Akka.Discovery;
using Akka.Discovery.KubernetesApi;
using Akka.Event;
using Akka.Hosting;

namespace Akka.Sync.Actors.Hosting;

/// <summary>
/// Seed nodes from service discovery: the Kubernetes API (pods with the service's label) or a static endpoint list.
/// Every node looks the service up until it sees <see cref="ClusterSettings.RequiredContactPoints"/> nodes, sorts their
/// remoting addresses and hands them to Akka's own seed-node join. All nodes therefore agree on the first seed: only
/// it may form a new cluster, and only if no other seed answers; a node started later (or the first one restarted)
/// joins the cluster that is already there.
/// </summary>
public static class DiscoveredSeedNodes
{
    public static AkkaConfigurationBuilder AddDiscoveredSeedNodes(this AkkaConfigurationBuilder builder, ClusterSettings cluster, string systemName)
    {
        string method;
        if (cluster.Discovery == ClusterDiscovery.Kubernetes)
        {
            method = "kubernetes-api";
            builder.WithKubernetesDiscovery(k =>
            {
                k.PodLabelSelector = cluster.KubernetesPodLabelSelector;
                if (cluster.KubernetesNamespace is { Length: > 0 } ns) k.PodNamespace = ns;
            });
        }
        else
        {
            method = "config";
            var endpoints = string.Join(", ", cluster.DiscoveryEndpoints.Select(e => $"\"{e}\""));
            builder.AddHocon(ConfigurationFactory.ParseString($$"""
                akka.discovery.config.services."{{cluster.ServiceName}}".endpoints = [{{endpoints}}]
                """), HoconAddMode.Prepend);
        }
        builder.AddStartup((system, registry) =>
        {
            // In the background: the host must start (and /ready answer "not yet") while pods are still appearing.
            _ = JoinAsync(system, cluster, systemName, method);
            return Task.CompletedTask;
        });
        return builder;
    }

    private static async Task JoinAsync(ActorSystem system, ClusterSettings cluster, string systemName, string method)
    {
        var log = Logging.GetLogger(system, typeof(DiscoveredSeedNodes));
        var discovery = Akka.Discovery.Discovery.Get(system).LoadServiceDiscovery(method);
        var lookup = new Lookup(cluster.ServiceName, method == "kubernetes-api" ? cluster.KubernetesPortName : null, "tcp");
        var self = Akka.Cluster.Cluster.Get(system);
        while (!system.WhenTerminated.IsCompleted)
        {
            try
            {
                var resolved = await discovery.Lookup(lookup, TimeSpan.FromSeconds(5));
                var seeds = resolved.Addresses
                    .Select(a => new Address("akka.tcp", systemName, a.Address?.ToString() ?? a.Host, a.Port ?? self.SelfAddress.Port))
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
            catch (Exception e)
            {
                log.Warning("Discovery ({0}) lookup of {1} failed: {2}", method, cluster.ServiceName, e.Message);
            }
            await Task.Delay(TimeSpan.FromSeconds(1));
        }
    }
}
