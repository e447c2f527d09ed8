using MlPipelines.ManagedEngine.Loading;

namespace MlPipelines.Hub;

/// <summary>
/// One repository's folder in the hub cache, laid out as <c>huggingface_hub</c> lays it out so both share it:
/// <c>blobs/{etag}</c> (content), <c>snapshots/{commit}/{file}</c> (relative links to the blobs) and
/// <c>refs/{revision}</c> (the commit a branch or tag pointed at).
/// </summary>
internal sealed class CacheLayout
{
    private bool _symlinksWork = true;

    public CacheLayout(string hubDirectory, string repoId)
    {
        RepoDirectory = HuggingFaceCache.RepoDirectory(hubDirectory, repoId);
        BlobsDirectory = Path.Combine(RepoDirectory, "blobs");
    }

    public string RepoDirectory { get; }

    public string BlobsDirectory { get; }

    public string BlobPath(string etag) => Path.Combine(BlobsDirectory, etag);

    /// <summary>Where a download in progress is kept (and resumed from), beside its final name.</summary>
    public static string IncompletePath(string blobPath) => blobPath + ".incomplete";

    public string SnapshotDirectory(string commit) => Path.Combine(RepoDirectory, "snapshots", commit);

    /// <summary>
    /// The path of <paramref name="fileName"/> in a snapshot. File names come from the server, so one that is
    /// absolute or climbs with '..' is refused rather than written outside the snapshot.
    /// </summary>
    public string SnapshotPath(string commit, string fileName)
    {
        string[] parts = fileName.Split('/');
        if (fileName.Length == 0 || fileName.Contains('\\') || fileName.Contains(':')
            || parts.Any(p => p.Length == 0 || p == "." || p == ".."))
            throw new HubException(HubErrorKind.Protocol, $"the repository lists an unsafe file name: '{fileName}'");
        return Path.Combine([SnapshotDirectory(commit), .. parts]);
    }

    /// <summary>
    /// Makes <paramref name="snapshotPath"/> a relative symbolic link to <paramref name="blobPath"/>
    /// (<c>../../blobs/{etag}</c>, one more <c>../</c> per subfolder) so the cache can be moved as a whole; where
    /// links cannot be made (Windows without developer mode) it becomes a copy. The name appears atomically: the
    /// link or copy is made under a temporary name and renamed over it.
    /// </summary>
    public void Link(string blobPath, string snapshotPath)
    {
        string folder = Path.GetDirectoryName(snapshotPath)!;
        Directory.CreateDirectory(folder);
        string target = Path.GetRelativePath(folder, blobPath);
        var existing = new FileInfo(snapshotPath);
        if (existing.LinkTarget == target)
            return;
        if (existing.Exists && existing.LinkTarget is null && !_symlinksWork && existing.Length == new FileInfo(blobPath).Length)
            return;   // an earlier copy

        string temporary = snapshotPath + ".tmp-" + Guid.NewGuid().ToString("N")[..8];
        try
        {
            if (_symlinksWork)
            {
                try
                {
                    File.CreateSymbolicLink(temporary, target);
                }
                catch (Exception e) when (e is IOException or UnauthorizedAccessException or PlatformNotSupportedException)
                {
                    _symlinksWork = false;
                }
            }
            if (!_symlinksWork)
                File.Copy(blobPath, temporary, overwrite: true);
            File.Move(temporary, snapshotPath, overwrite: true);
        }
        finally
        {
            if (File.Exists(temporary) || new FileInfo(temporary).LinkTarget is not null)
                File.Delete(temporary);
        }
    }

    /// <summary>Records that <paramref name="revision"/> points at <paramref name="commit"/> (no newline, as huggingface_hub writes it).</summary>
    public void WriteRef(string revision, string commit)
    {
        string path = Path.Combine([RepoDirectory, "refs", .. revision.Split('/')]);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        string temporary = path + ".tmp-" + Guid.NewGuid().ToString("N")[..8];
        File.WriteAllText(temporary, commit);
        File.Move(temporary, path, overwrite: true);
    }
}
