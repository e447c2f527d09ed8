using MlPipelines.Jobs.EmbedJobs;
using MlPipelines.Jobs.EmbedJobs.Shards;
using MlPipelines.ManagedEngine.Embeddings;
using MlPipelines.OnnxEngine;

namespace MlPipelines.Cluster.Contracts;

/// <summary>
/// What a distributed embed job does, as every silo must see it: the input (a path every silo can read — shared
/// storage), the parts folder (shared too), the model (a name or path every silo resolves to the same files) and the
/// embedding settings. Plain values only, so it crosses the wire and the storage provider as it is.
/// </summary>
[GenerateSerializer, Immutable, Alias("mlpipe.ClusterEmbedJobSpec")]
public sealed record ClusterEmbedJobSpec
{
    /// <summary>The input file (text, CSV or JSON Lines).</summary>
    [Id(0)] public required string InputPath { get; init; }

    /// <summary>The input format's name (<see cref="EmbedInputFormat"/>).</summary>
    [Id(1)] public required string InputFormat { get; init; }

    /// <summary>The CSV column or JSON Lines field holding the texts.</summary>
    [Id(2)] public string Column { get; init; } = EmbedInputs.DefaultColumn;

    /// <summary>The folder the part files and the manifest go to.</summary>
    [Id(3)] public required string PartsDirectory { get; init; }

    /// <summary>The output format's name (<see cref="EmbedOutputFormat"/>).</summary>
    [Id(4)] public required string OutputFormat { get; init; }

    /// <summary>The model (null: the default model) and tokenizer (null: the model's own), as each silo resolves them.</summary>
    [Id(5)] public string? Model { get; init; }

    /// <inheritdoc cref="Model"/>
    [Id(6)] public string? Tokenizer { get; init; }

    /// <summary>The engine's name (<see cref="EngineKind"/>).</summary>
    [Id(7)] public string Engine { get; init; } = nameof(OnnxEngine.EngineKind.Managed);

    /// <summary>The pooling's name (<see cref="ManagedEngine.Embeddings.Pooling"/>).</summary>
    [Id(8)] public string Pooling { get; init; } = nameof(ManagedEngine.Embeddings.Pooling.Mean);

    /// <summary>Scale vectors to unit length.</summary>
    [Id(9)] public bool Normalize { get; init; } = true;

    /// <summary>Truncate texts to this many tokens (0: the model's context).</summary>
    [Id(10)] public int MaxTokens { get; init; }

    /// <summary>Texts per engine call; shards start on multiples of it.</summary>
    [Id(11)] public int BatchSize { get; init; } = 16;

    /// <summary>The input's rows, counted (and validated) when the job was planned.</summary>
    [Id(12)] public long TotalRows { get; init; }

    /// <summary>Rows per shard (rounded up to a multiple of <see cref="BatchSize"/>).</summary>
    [Id(13)] public long ShardRows { get; init; } = 4096;

    /// <summary>The embedding options the spec describes.</summary>
    public EmbeddingOptions EmbeddingOptions() => new()
    {
        Pooling = Enum.Parse<Pooling>(Pooling),
        Normalize = Normalize,
        MaxTokens = MaxTokens,
        BatchSize = BatchSize,
    };

    /// <summary>Where the texts come from.</summary>
    public EmbedShardInput Input() => new(InputPath, Enum.Parse<EmbedInputFormat>(InputFormat), Column);

    /// <summary>The output format.</summary>
    public EmbedOutputFormat Format() => Enum.Parse<EmbedOutputFormat>(OutputFormat);

    /// <summary>The engine.</summary>
    public EngineKind EngineKind() => Enum.Parse<EngineKind>(Engine);

    /// <summary>The shards of this job.</summary>
    public IReadOnlyList<EmbedShard> Plan() => EmbedShard.Plan(TotalRows, ShardRows, BatchSize);

    /// <summary>Throws an <see cref="ArgumentException"/> naming the first setting that is not valid.</summary>
    public void Validate()
    {
        ArgumentException.ThrowIfNullOrEmpty(InputPath);
        ArgumentException.ThrowIfNullOrEmpty(PartsDirectory);
        ArgumentException.ThrowIfNullOrEmpty(Column);
        if (!Enum.TryParse<EmbedInputFormat>(InputFormat, out _)) throw new ArgumentException($"Unknown input format '{InputFormat}'.", nameof(InputFormat));
        if (!Enum.TryParse<EmbedOutputFormat>(OutputFormat, out _)) throw new ArgumentException($"Unknown output format '{OutputFormat}'.", nameof(OutputFormat));
        if (!Enum.TryParse<EngineKind>(Engine, out _)) throw new ArgumentException($"Unknown engine '{Engine}'.", nameof(Engine));
        if (!Enum.TryParse<Pooling>(Pooling, out _)) throw new ArgumentException($"Unknown pooling '{Pooling}'.", nameof(Pooling));
        ArgumentOutOfRangeException.ThrowIfNegative(TotalRows);
        ArgumentOutOfRangeException.ThrowIfLessThan(ShardRows, 1);
        EmbeddingOptions().Validate();
        _ = Plan();   // too many shards fails here
    }
}
