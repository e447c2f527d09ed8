namespace MlPipelines.Hub;

/// <summary>A pulled model: its snapshot directory in the hub cache and the files in it.</summary>
/// <param name="RepoId">The repository, <c>org/name</c>.</param>
/// <param name="Revision">The branch, tag or commit that was asked for.</param>
/// <param name="Commit">The commit the revision resolved to (the snapshot folder's name).</param>
/// <param name="SnapshotDirectory">
/// <c>{hub}/models--{org}--{name}/snapshots/{commit}</c>; load the model from here.
/// </param>
/// <param name="Files">The files pulled (or, offline, found in the snapshot).</param>
/// <param name="FromCache">True when offline mode resolved the snapshot from the cache without any request.</param>
public sealed record PullResult(
    string RepoId, string Revision, string Commit, string SnapshotDirectory, IReadOnlyList<PulledFile> Files, bool FromCache)
{
    /// <summary>Bytes fetched over the network by this pull (resumed parts count only what was fetched now).</summary>
    public long DownloadedBytes => Files.Sum(f => f.DownloadedBytes);
}

/// <summary>One file of a snapshot.</summary>
/// <param name="Name">The repository file name, '/'-separated (for example <c>original/params.json</c>).</param>
/// <param name="Path">Its path under the snapshot directory (a link to the blob, or a copy).</param>
/// <param name="Size">Its size in bytes.</param>
/// <param name="DownloadedBytes">Bytes fetched for it by this pull; 0 when its blob was already cached.</param>
public sealed record PulledFile(string Name, string Path, long Size, long DownloadedBytes);
