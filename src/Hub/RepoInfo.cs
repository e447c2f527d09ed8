using System.Text.Json;

namespace MlPipelines.Hub;

/// <summary>A file listed by the Hub's model API (<c>siblings</c>).</summary>
/// <param name="Name">The repository file name (<c>rfilename</c>).</param>
/// <param name="Size">Its size when the API gave it (<c>lfs.size</c>, else <c>size</c>).</param>
internal sealed record RepoFile(string Name, long? Size);

/// <summary>What <c>GET /api/models/{repo}/revision/{revision}</c> says about a repository at a revision.</summary>
internal sealed record RepoInfo(string Commit, IReadOnlyList<RepoFile> Files)
{
    /// <summary>Reads the API's JSON: the commit is <c>sha</c>, the files are <c>siblings[].rfilename</c>.</summary>
    public static RepoInfo Parse(string json, string repoLabel)
    {
        try
        {
            using var doc = JsonDocument.Parse(json);
            JsonElement root = doc.RootElement;
            string? commit = root.TryGetProperty("sha", out var sha) && sha.ValueKind == JsonValueKind.String ? sha.GetString() : null;
            if (commit is null || !MlPipelines.ManagedEngine.Loading.HuggingFaceCache.IsCommitHash(commit))
                throw new HubException(HubErrorKind.Protocol, $"the Hub's answer for {repoLabel} has no commit hash ('sha')");
            var files = new List<RepoFile>();
            if (root.TryGetProperty("siblings", out var siblings) && siblings.ValueKind == JsonValueKind.Array)
            {
                foreach (JsonElement sibling in siblings.EnumerateArray())
                {
                    if (!sibling.TryGetProperty("rfilename", out var name) || name.ValueKind != JsonValueKind.String)
                        continue;
                    long? size = sibling.TryGetProperty("lfs", out var lfs) && lfs.ValueKind == JsonValueKind.Object && ReadSize(lfs) is long lfsSize
                        ? lfsSize
                        : ReadSize(sibling);
                    files.Add(new RepoFile(name.GetString()!, size));
                }
            }
            return new RepoInfo(commit, files);
        }
        catch (JsonException e)
        {
            throw new HubException(HubErrorKind.Protocol, $"the Hub's answer for {repoLabel} is not valid JSON: {e.Message}", e);
        }
    }

    private static long? ReadSize(JsonElement element) =>
        element.TryGetProperty("size", out var size) && size.ValueKind == JsonValueKind.Number && size.TryGetInt64(out long value)
            ? value
            : null;
}
