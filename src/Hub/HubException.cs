namespace MlPipelines.Hub;

/// <summary>What went wrong talking to the Hub or writing to the cache.</summary>
public enum HubErrorKind
{
    /// <summary>401/403: the repository is gated or private and the token (if any) has no access.</summary>
    AccessDenied,
    /// <summary>No such repository (<c>X-Error-Code: RepoNotFound</c>).</summary>
    RepositoryNotFound,
    /// <summary>No such branch, tag or commit (<c>X-Error-Code: RevisionNotFound</c>).</summary>
    RevisionNotFound,
    /// <summary>No such file in the repository (<c>X-Error-Code: EntryNotFound</c>).</summary>
    EntryNotFound,
    /// <summary>Rate limiting (429) or server errors (5xx) outlasted every retry, or another unexpected status.</summary>
    HttpStatus,
    /// <summary>The Hub could not be reached or the connection kept dropping.</summary>
    Network,
    /// <summary>The Hub answered something this client cannot use (no commit, no ETag, unsafe file names).</summary>
    Protocol,
    /// <summary>Downloaded content does not match its hash or size.</summary>
    IntegrityMismatch,
    /// <summary>The cache could not be written (other than a full disk).</summary>
    CacheWrite,
    /// <summary>The cache's disk is (or would become) full.</summary>
    DiskFull,
    /// <summary>Offline mode is on and the model is not in the cache.</summary>
    NotCached,
    /// <summary>No file of the repository matches the include/exclude patterns.</summary>
    NoMatchingFiles,
}

/// <summary>
/// A failure to pull from the Hub, with a message meant for the user. An <see cref="IOException"/> so callers that
/// report I/O problems in one line (as the <c>mlpipe</c> command line does) report these the same way.
/// </summary>
public sealed class HubException : IOException
{
    /// <summary>Creates the exception.</summary>
    public HubException(HubErrorKind kind, string message, Exception? innerException = null, int? statusCode = null)
        : base(message, innerException)
    {
        Kind = kind;
        StatusCode = statusCode;
    }

    /// <summary>What went wrong.</summary>
    public HubErrorKind Kind { get; }

    /// <summary>The HTTP status behind the failure, when there was one.</summary>
    public int? StatusCode { get; }
}
