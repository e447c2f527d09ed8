namespace MlPipelines.Jobs.EmbedJobs;

/// <summary>What an <see cref="EmbedJob"/> reads, writes and how it resumes.</summary>
public sealed record EmbedJobOptions
{
    /// <summary>The input file.</summary>
    public required string InputPath { get; init; }

    /// <summary>The output file. Beside it the job keeps <c>OUTPUT.mlpipe-progress</c> (and, for Parquet, <c>OUTPUT.parts/</c>) until done.</summary>
    public required string OutputPath { get; init; }

    /// <summary>The input format; null: from the input's extension (<see cref="EmbedFormats.InputFromPath"/>).</summary>
    public EmbedInputFormat? InputFormat { get; init; }

    /// <summary>The output format; null: from the output's extension (<see cref="EmbedFormats.OutputFromPath"/>).</summary>
    public EmbedOutputFormat? OutputFormat { get; init; }

    /// <summary>The CSV column or JSON Lines field holding the texts (default <c>text</c>).</summary>
    public string Column { get; init; } = EmbedInputs.DefaultColumn;

    /// <summary>Discard any previous progress and any existing output, and start from the first row.</summary>
    public bool Restart { get; init; }

    /// <summary>
    /// Identifies the model (and tokenizer) in the job's fingerprint, so that resuming with a different model
    /// is refused. It should change when the weights change: the content identity of the files
    /// (<see cref="JobFingerprint.DescribeModel"/>).
    /// </summary>
    public string ModelIdentity { get; init; } = "";

    /// <summary>Read the input through once before embedding: validates every row first and gives progress a total (default: true).</summary>
    public bool CountRowsFirst { get; init; } = true;

    /// <summary>Parquet only: commit a part once this many rows are pending (default 1024).</summary>
    public int ParquetPartRows { get; init; } = 1024;

    /// <summary>Parquet only: commit a part once this long has passed since the last (default 5 s).</summary>
    public TimeSpan ParquetPartInterval { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>The input format in effect.</summary>
    public EmbedInputFormat EffectiveInputFormat => InputFormat ?? EmbedFormats.InputFromPath(InputPath);

    /// <summary>The output format in effect.</summary>
    public EmbedOutputFormat EffectiveOutputFormat => OutputFormat ?? EmbedFormats.OutputFromPath(OutputPath);

    /// <summary>Throws an <see cref="ArgumentException"/> naming the first invalid setting.</summary>
    public void Validate()
    {
        ArgumentException.ThrowIfNullOrEmpty(InputPath);
        ArgumentException.ThrowIfNullOrEmpty(OutputPath);
        ArgumentException.ThrowIfNullOrEmpty(Column);
        ArgumentOutOfRangeException.ThrowIfLessThan(ParquetPartRows, 1);
        if (string.Equals(Path.GetFullPath(InputPath), Path.GetFullPath(OutputPath), StringComparison.Ordinal))
            throw new ArgumentException($"The output '{OutputPath}' is the input file; choose another output.");
        _ = EffectiveOutputFormat;   // an unknown extension fails here, before any work
    }
}
