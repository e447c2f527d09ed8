using MlPipelines.ManagedEngine.Model;

namespace MlPipelines.ManagedEngine.Embeddings;

/// <summary>How token hidden states become one vector per text.</summary>
public enum Pooling
{
    /// <summary>The mean over all tokens (BOS included when added).</summary>
    Mean,

    /// <summary>The last token's state (for a causal model, the one that has seen the whole text).</summary>
    LastToken,

    /// <summary>The first token's state.</summary>
    FirstToken,
}

/// <summary>Settings of an <see cref="Embedder"/>.</summary>
public sealed record EmbeddingOptions
{
    /// <summary>Pooling over the final hidden states (default: mean).</summary>
    public Pooling Pooling { get; init; } = Pooling.Mean;

    /// <summary>Scale each vector to unit L2 norm (default: true).</summary>
    public bool Normalize { get; init; } = true;

    /// <summary>Texts longer than this many tokens (BOS included) are handled by <see cref="LongInputs"/> (see <see cref="TokenLimits"/>); 0 = the model's context.</summary>
    public int MaxTokens { get; init; }

    /// <summary>What happens to a text longer than <see cref="MaxTokens"/>: by default its end is dropped.</summary>
    public LongInputPolicy LongInputs { get; init; } = LongInputPolicy.TruncateEnd;

    /// <summary>Texts that go through the engine together (default 16).</summary>
    public int BatchSize { get; init; } = 16;

    /// <summary>Put BOS before each text (default: true, as the model was trained).</summary>
    public bool AddBos { get; init; } = true;

    /// <summary>Throws <see cref="ArgumentOutOfRangeException"/> naming the first invalid setting.</summary>
    public void Validate()
    {
        if (!Enum.IsDefined(Pooling))
            throw new ArgumentOutOfRangeException(nameof(Pooling), Pooling, "Unknown pooling.");
        if (MaxTokens < 0)
            throw new ArgumentOutOfRangeException(nameof(MaxTokens), MaxTokens, "The maximum token count must be ≥ 0 (0 = the context length).");
        if (!Enum.IsDefined(LongInputs))
            throw new ArgumentOutOfRangeException(nameof(LongInputs), LongInputs, "Unknown long-input policy.");
        if (BatchSize < 1)
            throw new ArgumentOutOfRangeException(nameof(BatchSize), BatchSize, "The batch size must be ≥ 1.");
    }
}
