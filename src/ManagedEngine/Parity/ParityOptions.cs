using MlPipelines.ManagedEngine.Embeddings;

namespace MlPipelines.ManagedEngine.Parity;

/// <summary>What <see cref="ParityHarness.Compare"/> measures and the thresholds its verdict applies.</summary>
public sealed record ParityOptions
{
    /// <summary>
    /// Greedy tokens to generate after each prompt (default 200), capped by the context left after the
    /// prompt; 0 = as many as the context allows.
    /// </summary>
    public int Steps { get; init; } = 200;

    /// <summary>
    /// Largest absolute logit difference allowed anywhere (default 1e-4). fp32 engines that only sum in
    /// a different order differ by about 1e-6 on small models, so this leaves room without hiding bugs.
    /// </summary>
    public double MaxAbsLogitDiff { get; init; } = 1e-4;

    /// <summary>Smallest cosine similarity of the two models' embeddings allowed for any prompt (default 0.99999).</summary>
    public double MinCosine { get; init; } = 0.99999;

    /// <summary>Fail when any prompt's greedy continuations differ (default true).</summary>
    public bool RequireIdenticalGreedy { get; init; } = true;

    /// <summary>Put BOS before each prompt (default true, as the models were trained).</summary>
    public bool AddBos { get; init; } = true;

    /// <summary>How embeddings are formed (default: mean pooling, L2-normalised).</summary>
    public EmbeddingOptions Embedding { get; init; } = new();

    /// <summary>Throws <see cref="ArgumentOutOfRangeException"/> naming the first invalid setting.</summary>
    public void Validate()
    {
        if (Steps < 0)
            throw new ArgumentOutOfRangeException(nameof(Steps), Steps, "The number of greedy steps must be ≥ 0 (0 = up to the context).");
        if (!(MaxAbsLogitDiff >= 0) || double.IsPositiveInfinity(MaxAbsLogitDiff))
            throw new ArgumentOutOfRangeException(nameof(MaxAbsLogitDiff), MaxAbsLogitDiff, "The logit tolerance must be a finite number ≥ 0.");
        if (!(MinCosine >= -1 && MinCosine <= 1))
            throw new ArgumentOutOfRangeException(nameof(MinCosine), MinCosine, "The minimum cosine similarity must lie in [-1, 1].");
        ArgumentNullException.ThrowIfNull(Embedding, nameof(Embedding));
        Embedding.Validate();
    }
}
