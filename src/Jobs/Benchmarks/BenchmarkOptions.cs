using MlPipelines.ManagedEngine.Model;

namespace MlPipelines.Jobs.Benchmarks;

/// <summary>What <see cref="EngineBenchmark"/> measures and how often.</summary>
public sealed record BenchmarkOptions
{
    /// <summary>The prefill lengths measured when none are named (those that fit the context).</summary>
    public static IReadOnlyList<int> DefaultPrefillLengths { get; } = [128, 512];

    /// <summary>Prompt tokens run (untimed) before decoding, so decode attends to a non-empty cache.</summary>
    public int PromptTokens { get; init; } = 8;

    /// <summary>Tokens generated one at a time (greedy) in each decode run.</summary>
    public int DecodeTokens { get; init; } = 128;

    /// <summary>Chunk lengths of the prefill runs: each is one forward call from position 0.</summary>
    public IReadOnlyList<int> PrefillLengths { get; init; } = DefaultPrefillLengths;

    /// <summary>Measured runs per engine and thread count; the report gives their median, min and max.</summary>
    public int Runs { get; init; } = 5;

    /// <summary>
    /// Least warm-up time per engine and thread count, in seconds (0: no warm-up). Warm-up goes on past it
    /// until two consecutive rounds agree within <see cref="WarmupTolerance"/>, up to <see cref="MaxWarmupSeconds"/>.
    /// </summary>
    public double WarmupSeconds { get; init; } = 2;

    /// <summary>Upper bound on one warm-up, in seconds, for a machine too noisy ever to look stable.</summary>
    public double MaxWarmupSeconds { get; init; } = 30;

    /// <summary>Relative difference between consecutive warm-up rounds taken as stable.</summary>
    public double WarmupTolerance { get; init; } = 0.05;

    /// <summary>Seed of the (random but fixed) prompt and prefill token ids.</summary>
    public int Seed { get; init; } = 1234;

    /// <summary>Throws an <see cref="ArgumentException"/> naming the first setting that is invalid on its own.</summary>
    public void Validate()
    {
        if (Runs < 1)
            throw new ArgumentOutOfRangeException(nameof(Runs), Runs, $"Runs must be at least 1, not {Runs}.");
        if (PromptTokens < 1)
            throw new ArgumentOutOfRangeException(nameof(PromptTokens), PromptTokens, $"Prompt tokens must be at least 1, not {PromptTokens}.");
        if (DecodeTokens < 1)
            throw new ArgumentOutOfRangeException(nameof(DecodeTokens), DecodeTokens, $"Decode tokens must be at least 1, not {DecodeTokens}.");
        ArgumentNullException.ThrowIfNull(PrefillLengths);
        foreach (int length in PrefillLengths)
            if (length < 1)
                throw new ArgumentOutOfRangeException(nameof(PrefillLengths), length, $"Prefill lengths must be at least 1, not {length}.");
        if (!(WarmupSeconds >= 0) || !(MaxWarmupSeconds >= WarmupSeconds))
            throw new ArgumentOutOfRangeException(nameof(WarmupSeconds), WarmupSeconds, "Warm-up must be ≥ 0 seconds and at most the maximum warm-up.");
        if (!(WarmupTolerance > 0))
            throw new ArgumentOutOfRangeException(nameof(WarmupTolerance), WarmupTolerance, "Warm-up tolerance must be > 0.");
    }

    /// <summary>
    /// <see cref="Validate()"/>, then the checks that need the model: every run must fit its context.
    /// </summary>
    public void Validate(ModelConfig config)
    {
        ArgumentNullException.ThrowIfNull(config);
        Validate();
        int context = config.MaxSequenceLength;
        foreach (int length in PrefillLengths)
            if (length > context)
                throw new ArgumentException($"Prefill length {length} is longer than the model's context of {context} tokens.", nameof(PrefillLengths));
        if ((long)PromptTokens + DecodeTokens > context)
            throw new ArgumentException(
                $"{PromptTokens} prompt + {DecodeTokens} decode tokens exceed the model's context of {context} tokens.", nameof(DecodeTokens));
    }

    /// <summary>The default prefill lengths that fit a context of <paramref name="context"/> tokens.</summary>
    public static IReadOnlyList<int> DefaultPrefillLengthsFor(int context) =>
        DefaultPrefillLengths.Where(length => length <= context).ToArray();
}
