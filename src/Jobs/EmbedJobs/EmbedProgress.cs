namespace MlPipelines.Jobs.EmbedJobs;

/// <summary>A snapshot of a running embedding job, reported after every batch.</summary>
/// <param name="Rows">Rows in the output so far, resumed rows included.</param>
/// <param name="ResumedRows">Rows already done by an earlier run and skipped by this one.</param>
/// <param name="TotalRows">Rows in the input, when counted (<see cref="EmbedJobOptions.CountRowsFirst"/>).</param>
/// <param name="Elapsed">Time spent by this run since it started embedding.</param>
public readonly record struct EmbedProgress(long Rows, long ResumedRows, long? TotalRows, TimeSpan Elapsed)
{
    /// <summary>Rows embedded by this run per second.</summary>
    public double RowsPerSecond => Elapsed.TotalSeconds > 0 ? (Rows - ResumedRows) / Elapsed.TotalSeconds : 0;

    /// <summary>Estimated time to finish at the current rate, when the total is known.</summary>
    public TimeSpan? Remaining => TotalRows is { } total && RowsPerSecond > 0
        ? TimeSpan.FromSeconds(Math.Max(0, total - Rows) / RowsPerSecond)
        : null;
}

/// <summary>How an embedding job ended.</summary>
/// <param name="OutputPath">The output file (for a cancelled Parquet job: not yet written; the rows so far are in its parts directory).</param>
/// <param name="Rows">Rows in the output (committed, for a cancelled job), resumed rows included.</param>
/// <param name="ResumedRows">Rows an earlier run had done.</param>
/// <param name="Elapsed">Time this run spent embedding and writing.</param>
/// <param name="Cancelled">The job was cancelled; its rows so far are committed and a rerun resumes after them.</param>
public sealed record EmbedJobResult(string OutputPath, long Rows, long ResumedRows, TimeSpan Elapsed, bool Cancelled)
{
    /// <summary>Rows embedded by this run per second.</summary>
    public double RowsPerSecond => Elapsed.TotalSeconds > 0 ? (Rows - ResumedRows) / Elapsed.TotalSeconds : 0;

    /// <summary>The progress file that records a cancelled job (gone once a job completes).</summary>
    public string ProgressFilePath => ProgressFile.PathFor(OutputPath);
}
