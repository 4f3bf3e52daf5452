using Akka.Actor;
using Akka.Cluster;
using Akka.Cluster.Sharding;
using Akka.Sync.Actors.Conversations;
using Akka.Sync.Protocol;
using static Akka.Sync.Gateway.Endpoints.Http;

namespace Akka.Sync.Gateway.Endpoints;

/// <summary>
/// Operator routes (server key): <c>GET /cluster</c> is this node's view of the membership, and
/// <c>GET /cluster/conversations/{id}</c> says which node hosts a conversation's shard right now.
/// </summary>
public static class ClusterEndpoints
{
    public static IEndpointRouteBuilder MapClusterApi(this IEndpointRouteBuilder app)
    {
        app.MapGet("/cluster", Members);
        app.MapGet("/cluster/conversations/{conversationId}", Location);
        return app;
    }

    private static IResult Members(ActorSystem system, RequestContext c)
    {
        if (c.AuthorizeServer() is { } denied) return denied;
        var cluster = Akka.Cluster.Cluster.Get(system);
        var state = cluster.State;
        return Results.Json(new
        {
            self = cluster.SelfAddress.ToString(),
            status = Status(cluster.SelfMember.Status),
            leader = state.Leader?.ToString(),
            members = state.Members.Select(m => new
            {
                address = m.Address.ToString(),
                status = Status(m.Status),
                roles = m.Roles.ToArray(),
                reachable = !state.Unreachable.Contains(m),
            }).ToArray(),
        });
    }

    private static async Task<IResult> Location(string conversationId, RequestContext c)
    {
        if (c.AuthorizeServer() is { } denied) return denied;
        if (!ConversationId.TryParse(conversationId, out var id))
            return Error(400, "conversation id must be a UUID (dashed or 32 hex digits)");
        var shard = ConversationHosting.ShardOf(id);
        try
        {
            var stats = await c.Region.Ask<ClusterShardingStats>(new GetClusterShardingStats(c.Limits.AskTimeout), c.Limits.AskTimeout);
            var node = stats.Regions.FirstOrDefault(r => r.Value.Stats.ContainsKey(shard)).Key;
            return Results.Json(new
            {
                conversation_id = id.Hex,
                shard,
                // null: the shard is not allocated (no conversation in it has been touched since the cluster formed).
                node = node?.ToString(),
            });
        }
        catch (AskTimeoutException)
        {
            return Error(503, "the cluster did not answer in time; try again");
        }
    }

    private static string Status(MemberStatus status) => status.ToString().ToLowerInvariant();
}
