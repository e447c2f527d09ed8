namespace MlPipelines.Jobs.EmbedJobs;

/// <summary>Where a commit left the output: what the progress file records so a resume can continue from it.</summary>
internal readonly record struct SinkCheckpoint(long Bytes, int Parts);

/// <summary>
/// An output being written by an embedding job. Rows written since the last <see cref="CommitAsync"/>
/// may be lost by a crash; committed rows never are, and a resume continues right after them.
/// </summary>
internal interface IEmbeddingSink : IAsyncDisposable
{
    /// <summary>Buffers one row.</summary>
    void Write(long index, string text, ReadOnlySpan<float> vector);

    /// <summary>Whether the job should commit after the batch just written.</summary>
    bool CommitDue { get; }

    /// <summary>Makes every row written so far durable (as far as the process going away is concerned).</summary>
    ValueTask<SinkCheckpoint> CommitAsync();

    /// <summary>Commits and puts the final output file in place.</summary>
    ValueTask CompleteAsync();

    /// <summary>Removes working files once the progress file is gone (the job is then complete).</summary>
    void DeleteWorkingFiles();
}

/// <summary>Opens the sink for a format, continuing from a checkpoint.</summary>
internal static class EmbeddingSinks
{
    public static IEmbeddingSink Open(EmbedOutputFormat format, string path, int dimension, SinkCheckpoint from, EmbedJobOptions options) => format switch
    {
        EmbedOutputFormat.Csv => new CsvEmbeddingSink(path, dimension, from.Bytes),
        EmbedOutputFormat.JsonLines => new JsonLinesEmbeddingSink(path, from.Bytes),
        EmbedOutputFormat.Parquet => new ParquetEmbeddingSink(path, dimension, from.Parts, options.ParquetPartRows, options.ParquetPartInterval),
        _ => throw new ArgumentOutOfRangeException(nameof(format), format, "Unknown output format."),
    };
}
