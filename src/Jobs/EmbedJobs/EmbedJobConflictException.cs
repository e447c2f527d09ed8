namespace MlPipelines.Jobs.EmbedJobs;

/// <summary>
/// The output of an embedding job cannot be written or resumed as asked: it belongs to a different job,
/// it exists already, or it was changed since the progress file was written. The message says which and
/// suggests the way out (usually <c>--restart</c>).
/// </summary>
public sealed class EmbedJobConflictException : IOException
{
    /// <summary>Creates the exception with a message for the user.</summary>
    public EmbedJobConflictException(string message) : base(message) { }
}
