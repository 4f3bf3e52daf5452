using Akka.Actor;
using Akka.Cluster;
using Akka.Sync.Actors.Hosting;
using Akka.Sync.Gateway.Settings;
using Microsoft.AspNetCore.Diagnostics.HealthChecks;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Npgsql;

namespace Akka.Sync.Gateway.Endpoints;

/// <summary><c>/alive</c> (the process answers) and <c>/ready</c> (cluster member Up and journal reachable).</summary>
public static class HealthEndpoints
{
    public const string ReadyTag = "ready";

    public static IServiceCollection AddSyncHealthChecks(this IServiceCollection services)
    {
        services.AddHealthChecks()
            .AddCheck<ClusterMemberCheck>("cluster", tags: [ReadyTag])
            .AddCheck<StoppingCheck>("stopping", tags: [ReadyTag])
            .AddCheck<JournalCheck>("journal", tags: [ReadyTag]);
        return services;
    }

    public static IEndpointRouteBuilder MapHealth(this IEndpointRouteBuilder app)
    {
        app.MapHealthChecks("/alive", new HealthCheckOptions { Predicate = _ => false });
        app.MapHealthChecks("/ready", new HealthCheckOptions { Predicate = c => c.Tags.Contains(ReadyTag) });
        return app;
    }

    private sealed class ClusterMemberCheck(ActorSystem system) : IHealthCheck
    {
        public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
        {
            var self = Akka.Cluster.Cluster.Get(system).SelfMember;
            return Task.FromResult(self.Status == MemberStatus.Up
                ? HealthCheckResult.Healthy("cluster member up")
                : HealthCheckResult.Unhealthy($"cluster member {self.Status}"));
        }
    }

    /// <summary>Not ready once the node has started stopping, so a load balancer sends nothing new its way.</summary>
    private sealed class StoppingCheck(Transport.SocketBudget sockets) : IHealthCheck
    {
        public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default) =>
            Task.FromResult(sockets.Draining ? HealthCheckResult.Unhealthy("node stopping") : HealthCheckResult.Healthy("serving"));
    }

    private sealed class JournalCheck(GatewaySettings settings) : IHealthCheck
    {
        public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
        {
            try
            {
                var (connectionString, _) = settings.Akka.Journal;
                await using System.Data.Common.DbConnection connection = settings.Akka.Provider == PersistenceProvider.PostgreSql
                    ? Postgres(connectionString)
                    : new SqliteConnection(connectionString);
                await connection.OpenAsync(cancellationToken);
                await using var command = connection.CreateCommand();
                command.CommandText = "SELECT 1";
                await command.ExecuteScalarAsync(cancellationToken);
                return HealthCheckResult.Healthy("journal reachable");
            }
            catch (Exception e) when (e is System.Data.Common.DbException or InvalidOperationException)
            {
                return HealthCheckResult.Unhealthy("journal unreachable: " + e.GetType().Name);
            }
        }

        // Its own method, not inlined: a SQLite node's readiness probe never loads Npgsql.
        [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.NoInlining)]
        private static System.Data.Common.DbConnection Postgres(string connectionString) => new NpgsqlConnection(connectionString);
    }
}
