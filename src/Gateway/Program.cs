using Akka.Sync.Gateway;

MallocArenas.Limit(Environment.GetEnvironmentVariable("MALLOC_ARENA_MAX"));
// Embedded default: http://127.0.0.1:8000, a one-node cluster, SQLite at ./data/akka-sync.db, the demo agent, no keys.
var app = GatewayApp.Build(args);
app.Run();

public partial class Program;
