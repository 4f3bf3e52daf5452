using System.Text.Json.Nodes;

namespace Akka.Sync.Protocol;

/// <summary>JSON Merge Patch (RFC 7386), the deep-merge the agent-server applies to settings diffs.</summary>
public static class JsonMergePatch
{
    /// <summary>
    /// Applies <paramref name="patch"/> to <paramref name="target"/> and returns the result (a new node; neither
    /// input is changed). A null member deletes that key; arrays and scalars replace what was there.
    /// </summary>
    public static JsonNode? Apply(JsonNode? target, JsonNode? patch)
    {
        if (patch is not JsonObject patchObject) return patch?.DeepClone();
        var result = target is JsonObject t ? (JsonObject)t.DeepClone() : new JsonObject();
        foreach (var (name, value) in patchObject)
        {
            if (value is null)
                result.Remove(name);
            else
                result[name] = Apply(result[name], value);
        }
        return result;
    }
}
