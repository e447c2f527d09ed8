using MlPipelines.ManagedEngine.Loading;

namespace MlPipelines.Hub;

/// <summary>Offline mode: a pull answered from the cache alone, as <c>huggingface_hub</c> does with <c>HF_HUB_OFFLINE</c>.</summary>
internal static class CachedSnapshot
{
    public static PullResult Resolve(string repoId, string revision, string hubDirectory)
    {
        string? snapshot = HuggingFaceCache.TryResolveSnapshot($"{repoId}@{revision}", hubDirectory);
        if (snapshot is null)
            throw new HubException(HubErrorKind.NotCached,
                $"offline mode is on ({nameof(HubOptions)}.{nameof(HubOptions.Offline)}, from HF_HUB_OFFLINE) and {repoId}@{revision} is not in the cache at {hubDirectory}; " +
                "pull it once with offline mode off");
        var files = Directory.EnumerateFiles(snapshot, "*", SearchOption.AllDirectories)
            .Select(path => new PulledFile(Path.GetRelativePath(snapshot, path).Replace('\\', '/'), path, SizeThroughLink(path), 0))
            .OrderBy(f => f.Name, StringComparer.Ordinal)
            .ToList();
        return new PullResult(repoId, revision, Path.GetFileName(snapshot), snapshot, files, FromCache: true);
    }

    // Snapshot entries are links to blobs; the size that matters is the blob's (0 for a dangling link).
    private static long SizeThroughLink(string path)
    {
        var info = new FileInfo(path);
        if (info.LinkTarget is not null)
            info = info.ResolveLinkTarget(returnFinalTarget: true) as FileInfo ?? info;
        return info.Exists ? info.Length : 0;
    }
}
