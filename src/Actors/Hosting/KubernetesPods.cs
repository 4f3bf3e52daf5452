using System.Net.Http.Headers;
using System.Security.Cryptography.X509Certificates;
using System.Text.Json;

namespace Akka.Sync.Actors.Hosting;

/// <summary>
/// Finds this deployment's pods through the Kubernetes API (<c>GET /api/v1/namespaces/{ns}/pods?labelSelector=…</c>)
/// with the pod's service-account token, and returns the remoting endpoint of each running pod: its IP and its
/// container port named <see cref="ClusterSettings.KubernetesPortName"/>. Written by hand because
/// Akka.Discovery.KubernetesApi 1.5.73 fails with the only KubernetesClient served here (19.0.2: MissingMethodException).
/// </summary>
public sealed class KubernetesPods(ClusterSettings cluster)
{
    private const string ServiceAccount = "/var/run/secrets/kubernetes.io/serviceaccount";

    public async Task<IReadOnlyList<(string Host, int Port)>> LookupAsync(CancellationToken cancellationToken)
    {
        var ns = cluster.KubernetesNamespace is { Length: > 0 } configured ? configured
            : ReadServiceAccountFile("namespace") ?? "default";
        var selector = string.Format(System.Globalization.CultureInfo.InvariantCulture, cluster.KubernetesPodLabelSelector, cluster.ServiceName);
        var api = cluster.KubernetesApiUrl is { Length: > 0 } url ? url.TrimEnd('/')
            : Environment.GetEnvironmentVariable("KUBERNETES_SERVICE_HOST") is { Length: > 0 } host
                ? $"https://{host}:{Environment.GetEnvironmentVariable("KUBERNETES_SERVICE_PORT") ?? "443"}"
                : throw new InvalidOperationException("not in a Kubernetes pod (KUBERNETES_SERVICE_HOST is empty) and Cluster:KubernetesApiUrl is not set");

        using var handler = new HttpClientHandler();
        if (File.Exists(Path.Combine(ServiceAccount, "ca.crt")))
        {
            var ca = X509CertificateLoader.LoadCertificateFromFile(Path.Combine(ServiceAccount, "ca.crt"));
            handler.ServerCertificateCustomValidationCallback = (_, certificate, chain, _) =>
            {
                if (certificate is null || chain is null) return false;
                chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
                chain.ChainPolicy.CustomTrustStore.Add(ca);
                chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
                return chain.Build(certificate);
            };
        }
        using var http = new HttpClient(handler) { Timeout = TimeSpan.FromSeconds(5) };
        using var request = new HttpRequestMessage(HttpMethod.Get,
            $"{api}/api/v1/namespaces/{Uri.EscapeDataString(ns)}/pods?labelSelector={Uri.EscapeDataString(selector)}");
        if (ReadServiceAccountFile("token") is { } token)
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        using var response = await http.SendAsync(request, cancellationToken);
        var body = await response.Content.ReadAsStringAsync(cancellationToken);
        if (!response.IsSuccessStatusCode)
            throw new InvalidOperationException($"Kubernetes API answered {(int)response.StatusCode} listing pods ({selector} in {ns}): {body[..Math.Min(body.Length, 200)]}");
        return Parse(body, cluster.KubernetesPortName);
    }

    /// <summary>The running, not-terminating pods of a pod list, with the named container port.</summary>
    public static IReadOnlyList<(string Host, int Port)> Parse(string podList, string portName)
    {
        using var doc = JsonDocument.Parse(podList);
        var endpoints = new List<(string, int)>();
        foreach (var pod in doc.RootElement.GetProperty("items").EnumerateArray())
        {
            if (pod.TryGetProperty("metadata", out var meta) && meta.TryGetProperty("deletionTimestamp", out var deleting)
                && deleting.ValueKind != JsonValueKind.Null) continue;
            if (!pod.TryGetProperty("status", out var status)
                || !status.TryGetProperty("podIP", out var ip) || ip.GetString() is not { Length: > 0 } address
                || !status.TryGetProperty("phase", out var phase) || phase.GetString() != "Running") continue;
            var port = pod.GetProperty("spec").GetProperty("containers").EnumerateArray()
                .SelectMany(c => c.TryGetProperty("ports", out var ports) ? ports.EnumerateArray() : Enumerable.Empty<JsonElement>())
                .Where(p => p.TryGetProperty("name", out var name) && name.GetString() == portName)
                .Select(p => p.GetProperty("containerPort").GetInt32())
                .FirstOrDefault();
            if (port > 0) endpoints.Add((address, port));
        }
        return endpoints;
    }

    private static string? ReadServiceAccountFile(string name)
    {
        var path = Path.Combine(ServiceAccount, name);
        return File.Exists(path) ? File.ReadAllText(path).Trim() : null;
    }
}
