using Akka.Actor;
using Akka.Configuration;
using Akka.Sync.Gateway.Settings;
using Akka.Sync.Gateway.Tests.Support;
using Microsoft.Extensions.DependencyInjection;
using Xunit;

namespace Akka.Sync.Gateway.Tests;

/// <summary>Settings reach the running server: akka.hocon underneath, configuration on top.</summary>
public sealed class ConfigurationTests
{
    [Fact]
    public async Task Akka_hocon_is_layered_under_the_settings_made_in_code()
    {
        // One key set on both layers: the shipped akka.hocon (the file the server reads, beside the binary) says 2.5 s,
        // and Cluster:StableAfter makes the code set the same key to 4 s.
        var hocon = ConfigurationFactory.ParseString(File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "akka.hocon")));
        Assert.Equal(TimeSpan.FromMilliseconds(2500), hocon.GetTimeSpan("akka.cluster.split-brain-resolver.stable-after"));
        await using var server = await SyncServer.StartAsync(new Dictionary<string, string?>
        {
            ["Cluster:Host"] = "127.0.0.1",
            ["Cluster:StableAfter"] = "00:00:04",
        });
        var config = server.Services.GetRequiredService<ActorSystem>().Settings.Config;

        Assert.Equal(TimeSpan.FromSeconds(4), config.GetTimeSpan("akka.cluster.split-brain-resolver.stable-after")); // code wins
        // Keys only akka.hocon sets are still there underneath.
        Assert.Equal(TimeSpan.FromMilliseconds(500), config.GetTimeSpan("akka.cluster.down-removal-margin"));
        Assert.Equal(32L * 1024 * 1024, config.GetByteSize("akka.remote.dot-netty.tcp.maximum-frame-size"));
        Assert.Equal("off", config.GetString("akka.cluster.sharding.passivate-idle-entity-after"));
        Assert.Equal("akka.persistence.journal.sql", config.GetString("akka.persistence.journal.plugin"));
        Assert.Equal("127.0.0.1", config.GetString("akka.remote.dot-netty.tcp.hostname"));
    }

    [Fact]
    public async Task Split_brain_resolver_and_failure_detector_use_the_documented_production_defaults()
    {
        await using var server = await SyncServer.StartAsync();
        var config = server.Services.GetRequiredService<ActorSystem>().Settings.Config;

        Assert.Equal("Akka.Cluster.SBR.SplitBrainResolverProvider, Akka.Cluster", config.GetString("akka.cluster.downing-provider-class"));
        Assert.Equal("keep-majority", config.GetString("akka.cluster.split-brain-resolver.active-strategy"));
        // Failover under 10 s without downing a node that is silent for less than ~5.5 s (docs/operations.md).
        Assert.Equal(TimeSpan.FromMilliseconds(2500), config.GetTimeSpan("akka.cluster.split-brain-resolver.stable-after"));
        Assert.Equal(TimeSpan.FromMilliseconds(500), config.GetTimeSpan("akka.cluster.down-removal-margin"));
        Assert.Equal(TimeSpan.FromMilliseconds(500), config.GetTimeSpan("akka.cluster.failure-detector.heartbeat-interval"));
        Assert.Equal(TimeSpan.FromMilliseconds(2500), config.GetTimeSpan("akka.cluster.failure-detector.acceptable-heartbeat-pause"));
        Assert.Equal(TimeSpan.FromMilliseconds(250), config.GetTimeSpan("akka.cluster.unreachable-nodes-reaper-interval"));
        Assert.Equal(TimeSpan.FromMilliseconds(500), config.GetTimeSpan("akka.cluster.leader-actions-interval"));
        Assert.Equal(TimeSpan.FromMilliseconds(500), config.GetTimeSpan("akka.cluster.gossip-interval"));
        Assert.Equal(TimeSpan.FromMilliseconds(500), config.GetTimeSpan("akka.cluster.sharding.retry-interval"));
        Assert.Equal("on", config.GetString("akka.cluster.run-coordinated-shutdown-when-down"));
        // After a database outage, journal calls are probed again every 3 s (Akka's default waits 30 s).
        Assert.Equal(TimeSpan.FromSeconds(3), config.GetTimeSpan("akka.persistence.journal.sql.circuit-breaker.reset-timeout"));
        Assert.Equal(TimeSpan.FromSeconds(3), config.GetTimeSpan("akka.persistence.snapshot-store.sql.circuit-breaker.reset-timeout"));
    }

    [Fact]
    public async Task Cluster_failure_settings_can_be_overridden_per_deployment()
    {
        await using var server = await SyncServer.StartAsync(new Dictionary<string, string?>
        {
            ["Cluster:StableAfter"] = "00:00:02",
            ["Cluster:DownRemovalMargin"] = "00:00:00.5",
            ["Cluster:HeartbeatInterval"] = "00:00:00.5",
            ["Cluster:AcceptableHeartbeatPause"] = "00:00:02",
        });
        var config = server.Services.GetRequiredService<ActorSystem>().Settings.Config;

        Assert.Equal(TimeSpan.FromSeconds(2), config.GetTimeSpan("akka.cluster.split-brain-resolver.stable-after"));
        Assert.Equal(TimeSpan.FromMilliseconds(500), config.GetTimeSpan("akka.cluster.down-removal-margin"));
        Assert.Equal(TimeSpan.FromMilliseconds(500), config.GetTimeSpan("akka.cluster.failure-detector.heartbeat-interval"));
        Assert.Equal(TimeSpan.FromSeconds(2), config.GetTimeSpan("akka.cluster.failure-detector.acceptable-heartbeat-pause"));
    }

    [Fact]
    public async Task Configuration_binds_limits_keys_and_the_data_directory()
    {
        await using var server = await SyncServer.StartAsync(new Dictionary<string, string?>
        {
            ["Limits:MaxFrameBytes"] = "2048",
            ["Limits:AuthTimeout"] = "00:00:03",
            ["Auth:SessionApiKeys:0"] = "a",
            ["SESSION_API_KEY"] = "b",
        });
        var settings = server.Services.GetRequiredService<GatewaySettings>();

        Assert.Equal(2048, settings.Limits.MaxFrameBytes);
        Assert.Equal(TimeSpan.FromSeconds(3), settings.Limits.AuthTimeout);
        Assert.Equal(10_000, settings.Limits.MaxQueuedFrames);
        Assert.Equal(["a", "b"], settings.SessionApiKeys);
        Assert.Equal(Path.Combine(Path.GetFullPath(server.DataDirectory), "akka-sync.db"), settings.Akka.SqliteFile);
        Assert.True(File.Exists(settings.Akka.SqliteFile));
    }

    [Fact]
    public async Task An_unknown_persistence_provider_stops_start_up_with_a_clear_error()
    {
        var e = await Assert.ThrowsAsync<InvalidOperationException>(() =>
            SyncServer.StartAsync(new Dictionary<string, string?> { ["Persistence:Provider"] = "Excel" }));
        Assert.Contains("Persistence:Provider", e.Message);
    }

    [Fact]
    public async Task PostgreSql_without_a_connection_string_stops_start_up_with_a_clear_error()
    {
        var e = await Assert.ThrowsAsync<InvalidOperationException>(() =>
            SyncServer.StartAsync(new Dictionary<string, string?> { ["Persistence:Provider"] = "PostgreSql" }));
        Assert.Contains("Persistence:ConnectionString", e.Message);
    }

    /// <summary>
    /// The web host is the slim builder (no IIS, QUIC or hosting-startup scan), with Kestrel's HTTPS configuration added
    /// back: an HTTPS endpoint under <c>Kestrel:Endpoints</c> with a certificate file still serves the API over TLS.
    /// Without <c>UseKestrelHttpsConfiguration</c> the slim builder refuses such an endpoint at start.
    /// </summary>
    [Fact]
    public async Task An_https_endpoint_configured_under_Kestrel_serves_the_api_over_tls()
    {
        var dir = SyncServer.NewDataDirectory();
        try
        {
            using var rsa = System.Security.Cryptography.RSA.Create(2048);
            var request = new System.Security.Cryptography.X509Certificates.CertificateRequest("CN=127.0.0.1", rsa,
                System.Security.Cryptography.HashAlgorithmName.SHA256, System.Security.Cryptography.RSASignaturePadding.Pkcs1);
            using var certificate = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddMinutes(-5), DateTimeOffset.UtcNow.AddHours(1));
            var pfx = Path.Combine(dir, "tls.pfx");
            await File.WriteAllBytesAsync(pfx, certificate.Export(System.Security.Cryptography.X509Certificates.X509ContentType.Pfx, "test"));

            await using var server = await SyncServer.StartAsync(new Dictionary<string, string?>
            {
                ["Kestrel:Endpoints:Https:Url"] = "https://127.0.0.1:0",
                ["Kestrel:Endpoints:Https:Certificate:Path"] = pfx,
                ["Kestrel:Endpoints:Https:Certificate:Password"] = "test",
            }, Path.Combine(dir, "data"));

            Assert.Equal(Uri.UriSchemeHttps, server.BaseUri.Scheme);
            var id = await server.NewConversationAsync();
            var stored = await server.IngestAsync(id, [SyncServer.Message("over tls")]);
            Assert.True(Assert.Single(stored).GetProperty("seq").GetInt64() > 0);
        }
        finally
        {
            SyncServer.TryDelete(dir);
        }
    }
}
