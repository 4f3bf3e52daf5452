using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using Npgsql;

namespace Akka.Sync.Cluster.Tests.Support;

/// <summary>
/// A throwaway PostgreSQL server of the test's own: <c>initdb</c> in a temp directory, started on a port of its own,
/// deleted on dispose. It can be stopped and started again (an outage) without losing its data.
/// As root (CI) the server runs as the <c>postgres</c> user, which initdb requires.
/// </summary>
public sealed class PostgresServer : IAsyncDisposable
{
    private readonly string _root;
    private readonly string _data;
    public int Port { get; }

    private PostgresServer(string root, int port)
    {
        _root = root;
        _data = Path.Combine(root, "data");
        Port = port;
    }

    public string ConnectionString =>
        $"Host=127.0.0.1;Port={Port};Username=postgres;Database=postgres;Pooling=true;Timeout=5;Command Timeout=15";

    private static string BinDirectory { get; } =
        (Directory.Exists("/usr/lib/postgresql") ? Directory.GetDirectories("/usr/lib/postgresql") : [])
            .Select(d => Path.Combine(d, "bin"))
            .Where(d => File.Exists(Path.Combine(d, "initdb")))
            .OrderByDescending(d => d, StringComparer.Ordinal)
            .FirstOrDefault()
        ?? throw new InvalidOperationException("PostgreSQL is not installed; ./scripts/test installs it (apt-get install postgresql)");

    public static async Task<PostgresServer> StartAsync()
    {
        var root = Path.Combine(Path.GetTempPath(), "akka-sync-pg", Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(root);
        if (Environment.UserName == "root") await RunAsync("chown", "-R", "postgres:postgres", root);
        // PostgreSQL cannot be told "port 0"; it takes a port the kernel has just handed out as free.
        var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var port = ((IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop();
        var server = new PostgresServer(root, port);
        try
        {
            await server.AsPostgresAsync("initdb", "-D", server._data, "-A", "trust", "-U", "postgres", "-E", "UTF8", "--no-sync");
            await server.StartAgainAsync();
            return server;
        }
        catch
        {
            await server.DisposeAsync();
            throw;
        }
    }

    /// <summary>Starts (or restarts after <see cref="StopAsync"/>) the server and waits until it accepts connections.</summary>
    public async Task StartAgainAsync()
    {
        // fsync off: the tests kill Akka.Sync nodes, never this server, so its page cache is as durable as disk here.
        await AsPostgresAsync("pg_ctl", "-D", _data, "-l", Path.Combine(_root, "server.log"), "-w", "-t", "30",
            "-o", $"-p {Port} -k {_root} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=300", "start");
        await using var connection = new NpgsqlConnection(ConnectionString);
        await connection.OpenAsync();
    }

    /// <summary>Stops the server at once (connections are cut): a journal outage.</summary>
    public Task StopAsync() => AsPostgresAsync("pg_ctl", "-D", _data, "-m", "immediate", "-w", "-t", "30", "stop");

    /// <summary>Runs a SQL scalar query (the tests read the journal directly to check what is stored).</summary>
    public async Task<T> ScalarAsync<T>(string sql)
    {
        await using var connection = new NpgsqlConnection(ConnectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(sql, connection);
        return (T)(await command.ExecuteScalarAsync())!;
    }

    private Task AsPostgresAsync(string tool, params string[] args)
    {
        var path = Path.Combine(BinDirectory, tool);
        if (Environment.UserName != "root") return RunAsync(path, args);
        var command = string.Join(' ', new[] { path }.Concat(args).Select(Quote));
        return RunAsync("su", "postgres", "-s", "/bin/sh", "-c", command);
    }

    private static string Quote(string s) => "'" + s.Replace("'", "'\\''") + "'";

    private static async Task RunAsync(string file, params string[] args)
    {
        var psi = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in args) psi.ArgumentList.Add(a);
        using var process = Process.Start(psi)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        await process.WaitForExitAsync(cts.Token);
        if (process.ExitCode != 0)
            throw new InvalidOperationException($"{file} {string.Join(' ', args)} exited {process.ExitCode}: {await stdout} {await stderr}");
    }

    public async ValueTask DisposeAsync()
    {
        try { await AsPostgresAsync("pg_ctl", "-D", _data, "-m", "immediate", "-w", "-t", "30", "stop"); }
        catch (InvalidOperationException) { } // not running
        try { Directory.Delete(_root, recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
    }
}
