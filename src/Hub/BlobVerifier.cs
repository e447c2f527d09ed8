using System.Security.Cryptography;
using System.Text;
using System.Text.RegularExpressions;

namespace MlPipelines.Hub;

/// <summary>
/// Checks a downloaded blob against the name the Hub gave it: a 64-hex ETag is the SHA-256 of the content (large,
/// LFS-stored files), a 40-hex ETag is the git blob id, <c>sha1("blob {size}\0" + content)</c> (files stored in git).
/// Other ETags say nothing about the content; only the size is checked then.
/// </summary>
internal static partial class BlobVerifier
{
    /// <summary>
    /// Verifies <paramref name="path"/>; on a mismatch deletes it and throws <see cref="HubException"/> naming
    /// <paramref name="fileName"/> and both values.
    /// </summary>
    /// <remarks>
    /// The file is hashed as it lies on disk after the download, rather than as bytes pass by, so what is checked is
    /// what will be used, and a download resumed across runs needs no saved hash state. The cost is one more
    /// sequential read, small next to the download.
    /// </remarks>
    public static void Verify(string path, string etag, long? expectedSize, string fileName)
    {
        long size = new FileInfo(path).Length;
        if (expectedSize is long expected && size != expected)
            Fail(path, $"size mismatch for {fileName}: expected {expected:N0} bytes, got {size:N0}; the download was discarded");
        string? actual;
        string kind;
        if (Sha256Pattern().IsMatch(etag))
        {
            kind = "sha256";
            using var stream = OpenRead(path);
            actual = Convert.ToHexStringLower(SHA256.HashData(stream));
        }
        else if (Sha1Pattern().IsMatch(etag))
        {
            kind = "git blob sha1";
            actual = GitBlobSha1(path, size);
        }
        else
        {
            return;
        }
        if (!string.Equals(actual, etag, StringComparison.OrdinalIgnoreCase))
            Fail(path, $"checksum mismatch for {fileName}: expected {kind} {etag.ToLowerInvariant()}, got {actual}; the download was discarded");
    }

    /// <summary>git's object id of a file: SHA-1 over the header <c>blob {size}\0</c> and then the content.</summary>
    public static string GitBlobSha1(string path, long size)
    {
        using var sha1 = IncrementalHash.CreateHash(HashAlgorithmName.SHA1);
        sha1.AppendData(Encoding.ASCII.GetBytes($"blob {size}\0"));
        using var stream = OpenRead(path);
        byte[] buffer = new byte[1 << 16];
        int n;
        while ((n = stream.Read(buffer)) > 0)
            sha1.AppendData(buffer, 0, n);
        return Convert.ToHexStringLower(sha1.GetHashAndReset());
    }

    private static FileStream OpenRead(string path) =>
        new(path, FileMode.Open, FileAccess.Read, FileShare.Read, bufferSize: 1 << 20, FileOptions.SequentialScan);

    private static void Fail(string path, string message)
    {
        File.Delete(path);
        throw new HubException(HubErrorKind.IntegrityMismatch, message);
    }

    [GeneratedRegex("^[0-9a-fA-F]{64}$")]
    private static partial Regex Sha256Pattern();

    [GeneratedRegex("^[0-9a-fA-F]{40}$")]
    private static partial Regex Sha1Pattern();
}
