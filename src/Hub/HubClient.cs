using MlPipelines.ManagedEngine.Loading;

namespace MlPipelines.Hub;

/// <summary>
/// Downloads model repositories from the Hugging Face Hub into <c>huggingface_hub</c>'s cache, so Python tools and
/// this program share what either downloaded.
/// </summary>
/// <example>
/// <code>
/// using var hub = new HubClient(HubOptions.FromEnvironment());
/// PullResult pulled = await hub.PullAsync("karpathy/tinyllamas@main");
/// Console.WriteLine(pulled.SnapshotDirectory);
/// </code>
/// </example>
public sealed class HubClient : IDisposable
{
    private readonly HubHttp _http;
    private readonly HubApi _api;
    private readonly BlobDownloader _downloader;

    /// <summary>Creates a client.</summary>
    /// <param name="options">Endpoint, token, cache and file selection; see <see cref="HubOptions.FromEnvironment"/>.</param>
    /// <param name="handler">
    /// The HTTP handler to send requests with (tests, proxies); it must not follow redirects itself, or the token
    /// would reach storage hosts. Not disposed with the client. Null for a handler made here.
    /// </param>
    public HubClient(HubOptions options, HttpMessageHandler? handler = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        Options = options;
        _http = new HubHttp(options, handler);
        _api = new HubApi(_http);
        _downloader = new BlobDownloader(_http, options);
    }

    /// <summary>The options the client was created with.</summary>
    public HubOptions Options { get; }

    /// <summary>
    /// Downloads the files of <paramref name="repoIdWithRevision"/> (<c>org/name</c> or <c>org/name@revision</c>,
    /// revision a branch, tag or commit; default <c>main</c>) that <see cref="HubOptions.Include"/> and
    /// <see cref="HubOptions.Exclude"/> select, into the snapshot of the commit the revision points at. Blobs already
    /// in the cache are only linked; partial downloads are resumed; every blob is verified before it is used.
    /// With <see cref="HubOptions.Offline"/> nothing is requested: the snapshot comes from the cache or the pull fails.
    /// </summary>
    /// <exception cref="ArgumentException">The repository id or revision is malformed.</exception>
    /// <exception cref="HubException">The Hub refused or failed, content did not verify, or the disk is full.</exception>
    public async Task<PullResult> PullAsync(
        string repoIdWithRevision, IProgress<PullProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(repoIdWithRevision);
        if (!HuggingFaceCache.TryParseRepoId(repoIdWithRevision, out string repoId, out string revision))
            throw new ArgumentException(
                $"expected a Hub model id 'org/name' or 'org/name@revision' (letters, digits, '-', '_', '.'; a branch, tag or " +
                $"commit after '@'), got '{repoIdWithRevision}'", nameof(repoIdWithRevision));
        string hubDirectory = Options.HubDirectory ?? HuggingFaceCache.HubDirectory();
        if (Options.Offline)
            return CachedSnapshot.Resolve(repoId, revision, hubDirectory);

        Action<string> retrying = message => progress?.Report(new PullProgress(PullProgressKind.Retrying, "", 0, 0, 0, null, message));
        RepoInfo repo = await _api.GetRepoInfoAsync(repoId, revision, retrying, cancellationToken).ConfigureAwait(false);
        IReadOnlyList<RepoFile> files = FileSelection.Select(repo, Options.Include, Options.Exclude, $"{repoId}@{revision}");
        var layout = new CacheLayout(hubDirectory, repoId);

        // Metadata for every file first: blob names and sizes decide what is cached and how much space is needed.
        // Files are resolved at the commit, not the branch, so a push during the pull cannot mix two versions.
        var plans = new List<(RepoFile File, RequestSubject Subject, Uri Uri, FileMetadata Meta, string Blob)>();
        foreach (RepoFile file in files)
        {
            var subject = new RequestSubject(repoId, revision, file.Name);
            layout.SnapshotPath(repo.Commit, file.Name);   // refuse unsafe names before anything is written
            Uri uri = _api.ResolveUri(repoId, repo.Commit, file.Name);
            FileMetadata meta = await _api.GetFileMetadataAsync(uri, subject, retrying, cancellationToken).ConfigureAwait(false);
            plans.Add((file, subject, uri, meta with { Size = meta.Size ?? file.Size }, layout.BlobPath(meta.Etag)));
        }

        Directory.CreateDirectory(layout.BlobsDirectory);
        long needed = plans
            .Where(p => !File.Exists(p.Blob)).DistinctBy(p => p.Blob)
            .Sum(p => Math.Max(0, (p.Meta.Size ?? 0) - LengthOrZero(CacheLayout.IncompletePath(p.Blob))));
        progress?.Report(new PullProgress(PullProgressKind.Resolved, "", 0, plans.Count, 0, needed, repo.Commit));
        DiskSpace.EnsureAvailable(layout.BlobsDirectory, needed);

        var pulled = new List<PulledFile>();
        for (int i = 0; i < plans.Count; i++)
        {
            var (file, subject, uri, meta, blob) = plans[i];
            int index = i + 1;
            string snapshotPath = layout.SnapshotPath(repo.Commit, file.Name);
            long fetched = 0;
            if (File.Exists(blob))
            {
                progress?.Report(new PullProgress(PullProgressKind.Cached, file.Name, index, plans.Count, LengthOrZero(blob), meta.Size));
            }
            else
            {
                void Report(PullProgressKind kind, long done) =>
                    progress?.Report(new PullProgress(kind, file.Name, index, plans.Count, done, meta.Size));
                bool started = false;
                fetched = await _downloader.DownloadAsync(
                    uri, blob, meta.Etag, meta.Size, subject,
                    done =>
                    {
                        Report(started ? PullProgressKind.Downloading : PullProgressKind.Started, done);
                        started = true;
                    },
                    message => progress?.Report(new PullProgress(PullProgressKind.Retrying, file.Name, index, plans.Count, 0, meta.Size, message)),
                    cancellationToken).ConfigureAwait(false);
                Report(PullProgressKind.Completed, LengthOrZero(blob));
            }
            layout.Link(blob, snapshotPath);
            pulled.Add(new PulledFile(file.Name, snapshotPath, LengthOrZero(blob), fetched));
        }

        // The ref moves last: until every file is in place, resolving the revision offline finds the previous
        // complete snapshot (or none) rather than a partial one.
        if (!HuggingFaceCache.IsCommitHash(revision))
            layout.WriteRef(revision, repo.Commit);
        return new PullResult(repoId, revision, repo.Commit, layout.SnapshotDirectory(repo.Commit), pulled, FromCache: false);
    }

    private static long LengthOrZero(string path)
    {
        var info = new FileInfo(path);
        return info.Exists ? info.Length : 0;
    }

    /// <summary>Releases the HTTP connections.</summary>
    public void Dispose() => _http.Dispose();
}
