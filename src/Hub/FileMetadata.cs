using System.Text.RegularExpressions;

namespace MlPipelines.Hub;

/// <summary>
/// A file's metadata from the headers of its <c>resolve</c> address, as <c>huggingface_hub</c>'s
/// <c>get_hf_file_metadata</c> reads them.
/// </summary>
/// <param name="Commit">The commit the file was resolved at (<c>X-Repo-Commit</c>), when sent.</param>
/// <param name="Etag">The blob's name in the cache: <c>X-Linked-Etag</c> (large files), else <c>ETag</c>.</param>
/// <param name="Size">Its size: <c>X-Linked-Size</c>, else the <c>Content-Length</c> of a direct answer.</param>
internal sealed partial record FileMetadata(string? Commit, string Etag, long? Size)
{
    public static FileMetadata FromResponse(HttpResponseMessage response, RequestSubject subject)
    {
        string? commit = Header(response, "X-Repo-Commit");
        string? etag = NormalizeEtag(Header(response, "X-Linked-Etag") ?? response.Headers.ETag?.ToString() ?? Header(response, "ETag"));
        if (etag is null)
            throw new HubException(HubErrorKind.Protocol, $"the Hub sent no ETag for {subject.Describe()}");
        // The ETag names a file under blobs/: anything that could climb out of it or is not a plain name is refused.
        if (!SafeEtag().IsMatch(etag))
            throw new HubException(HubErrorKind.Protocol, $"the Hub sent an unusable ETag for {subject.Describe()}: '{etag}'");
        long? size = long.TryParse(Header(response, "X-Linked-Size"), out long linked) ? linked
            // A redirect's own Content-Length is the length of the redirect page, not of the file.
            : (int)response.StatusCode is >= 200 and < 300 ? response.Content.Headers.ContentLength
            : null;
        return new FileMetadata(commit, etag, size);
    }

    /// <summary>Drops a weak <c>W/</c> prefix and the quotes, as <c>huggingface_hub</c>'s <c>_normalize_etag</c>.</summary>
    public static string? NormalizeEtag(string? etag)
    {
        if (etag is null) return null;
        etag = etag.Trim();
        if (etag.StartsWith("W/", StringComparison.Ordinal)) etag = etag[2..];
        etag = etag.Trim('"');
        return etag.Length > 0 ? etag : null;
    }

    private static string? Header(HttpResponseMessage response, string name) =>
        response.Headers.TryGetValues(name, out var values) ? values.FirstOrDefault()
        : response.Content.Headers.TryGetValues(name, out var contentValues) ? contentValues.FirstOrDefault()
        : null;

    [GeneratedRegex("^[A-Za-z0-9_-][A-Za-z0-9._-]{0,127}$")]
    private static partial Regex SafeEtag();
}
