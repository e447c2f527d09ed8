namespace MlPipelines.Hub;

/// <summary>The stage a <see cref="PullProgress"/> report is about.</summary>
public enum PullProgressKind
{
    /// <summary>The revision resolved to a commit and the files were chosen; <see cref="PullProgress.TotalBytes"/> is what remains to download.</summary>
    Resolved,
    /// <summary>A file's download starts; <see cref="PullProgress.BytesDone"/> counts an earlier partial download being resumed.</summary>
    Started,
    /// <summary>Bytes of a file arrived (reported a few times a second).</summary>
    Downloading,
    /// <summary>A request failed transiently and will be retried; <see cref="PullProgress.Message"/> says why.</summary>
    Retrying,
    /// <summary>A file was downloaded, verified and linked into the snapshot.</summary>
    Completed,
    /// <summary>A file's blob was already in the cache; it was only linked into the snapshot.</summary>
    Cached,
}

/// <summary>Progress of <see cref="HubClient.PullAsync"/>, reported synchronously on the pulling thread.</summary>
/// <param name="Kind">What happened.</param>
/// <param name="FileName">The repository file name; empty for <see cref="PullProgressKind.Resolved"/>.</param>
/// <param name="FileIndex">1-based position of the file among <paramref name="FileCount"/>; 0 for <see cref="PullProgressKind.Resolved"/>.</param>
/// <param name="FileCount">How many files the pull covers.</param>
/// <param name="BytesDone">Bytes of the file on disk so far.</param>
/// <param name="TotalBytes">The file's size (for <see cref="PullProgressKind.Resolved"/>: bytes left to download), when known.</param>
/// <param name="Message">The commit for <see cref="PullProgressKind.Resolved"/>, the reason for <see cref="PullProgressKind.Retrying"/>.</param>
public sealed record PullProgress(
    PullProgressKind Kind, string FileName, int FileIndex, int FileCount, long BytesDone, long? TotalBytes, string? Message = null);
