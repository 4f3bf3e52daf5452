using System.Security.Cryptography;
using System.Text;
using Akka.Sync.Actors.Following;
using Akka.Sync.Protocol;
using Microsoft.AspNetCore.DataProtection;

namespace Akka.Sync.Gateway.Upstream;

/// <summary>
/// Upstream session keys at rest: ASP.NET Core Data Protection (AES-256-CBC + HMACSHA256 under keys that rotate every
/// 90 days; old keys stay in the ring to decrypt) with its key ring in <c>Upstream:KeyRingDirectory</c> (default
/// <c>&lt;Persistence:DataDirectory&gt;/keys</c>). The journal and snapshots only ever hold the protected bytes, so a
/// copy of the database (a backup, a PostgreSQL replica) does not give the keys away without the ring. Every node that
/// may host a conversation must read the same ring: in a cluster, a shared volume (or the key in configuration, below).
/// The default upstream's key (<c>Upstream:SessionApiKey</c> for <c>Upstream:Url</c>) is held in configuration only
/// and never stored.
/// </summary>
public sealed class UpstreamKeyStore : IUpstreamKeys
{
    private const string ApplicationName = "akka-sync";
    private const string Purpose = "Akka.Sync.Upstream.SessionApiKey.v1";

    private readonly DirectoryInfo _ring;
    private readonly string? _configuredUrl;
    private readonly string? _configuredKey;
    private IDataProtector? _protector;

    public UpstreamKeyStore(string keyRingDirectory, string? configuredUrl, string? configuredKey)
    {
        _ring = Directory.CreateDirectory(keyRingDirectory);
        if (!OperatingSystem.IsWindows())
            File.SetUnixFileMode(_ring.FullName, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        _configuredUrl = configuredUrl;
        _configuredKey = string.IsNullOrEmpty(configuredKey) ? null : configuredKey;
    }

    /// <summary>
    /// The ring is read on first use, not at start: a node that follows no upstream never loads Data Protection and its
    /// XML key-ring reader (~1 MB of an idle node's memory, bench/NOTES.md "a node at rest").
    /// </summary>
    private IDataProtector Protector => Volatile.Read(ref _protector) ?? InitialProtector();

    private IDataProtector InitialProtector()
    {
        var created = NewProtector();
        return Interlocked.CompareExchange(ref _protector, created, null) ?? created;
    }

    public byte[] Protect(string key) => Protector.Protect(Encoding.UTF8.GetBytes(key));

    public string? KeyFor(UpstreamBinding binding)
    {
        if (binding.ProtectedKey is { } stored) return Unprotect(stored);
        return _configuredUrl is not null && string.Equals(binding.Url, _configuredUrl, StringComparison.OrdinalIgnoreCase) ? _configuredKey : null;
    }

    private string Unprotect(byte[] stored)
    {
        try
        {
            return Encoding.UTF8.GetString(Protector.Unprotect(stored));
        }
        catch (CryptographicException)
        {
            // Another node sharing the ring may have added a key since this node read it: read the ring again, once.
            var fresh = NewProtector();
            var key = Encoding.UTF8.GetString(fresh.Unprotect(stored));
            Volatile.Write(ref _protector, fresh);
            return key;
        }
    }

    private IDataProtector NewProtector() =>
        DataProtectionProvider.Create(_ring, b => b.SetApplicationName(ApplicationName)).CreateProtector(Purpose);
}
