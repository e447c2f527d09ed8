namespace MlPipelines.Hub;

/// <summary>The two Hub addresses a pull uses: the model API and the <c>resolve</c> address of each file.</summary>
internal sealed class HubApi(HubHttp http)
{
    /// <summary><c>GET /api/models/{repo}/revision/{revision}?blobs=true</c>: the commit and the files (with sizes).</summary>
    public async Task<RepoInfo> GetRepoInfoAsync(string repoId, string revision, Action<string>? onRetry, CancellationToken ct)
    {
        var subject = new RequestSubject(repoId, revision, null);
        // Revisions are one path segment even when they hold '/' (branch names may), as huggingface_hub quotes them.
        var uri = new Uri(http.Endpoint, $"api/models/{repoId}/revision/{Uri.EscapeDataString(revision)}?blobs=true");
        using HttpResponseMessage response = await http.SendAsync(HttpMethod.Get, uri, RedirectPolicy.All, 0, subject, onRetry, ct).ConfigureAwait(false);
        string json = await response.Content.ReadAsStringAsync(ct).ConfigureAwait(false);
        return RepoInfo.Parse(json, subject.Describe());
    }

    /// <summary>
    /// The metadata request: HEAD on the file's <c>resolve</c> address without following the redirect to storage,
    /// whose headers name the blob (<c>X-Linked-Etag</c>) and its size.
    /// </summary>
    public async Task<FileMetadata> GetFileMetadataAsync(Uri resolveUri, RequestSubject subject, Action<string>? onRetry, CancellationToken ct)
    {
        using HttpResponseMessage response = await http.SendAsync(
            HttpMethod.Head, resolveUri, RedirectPolicy.SameHost, 0, subject, onRetry, ct).ConfigureAwait(false);
        return FileMetadata.FromResponse(response, subject);
    }

    /// <summary><c>{endpoint}/{repo}/resolve/{revision}/{file}</c>, each path segment escaped.</summary>
    public Uri ResolveUri(string repoId, string revision, string fileName)
    {
        string file = string.Join('/', fileName.Split('/').Select(Uri.EscapeDataString));
        return new Uri(http.Endpoint, $"{repoId}/resolve/{Uri.EscapeDataString(revision)}/{file}");
    }
}
