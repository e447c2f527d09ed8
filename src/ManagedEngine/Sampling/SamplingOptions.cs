namespace MlPipelines.ManagedEngine.Sampling;

/// <summary>
/// How the next token is chosen from the logits. The default is greedy (temperature 0), as everywhere in the
/// library (the ML.NET generate transform too), so an unconfigured run is deterministic; top-p 0.9 and no top-k,
/// run.c's values, apply once a temperature is set. (<c>mlpipe generate</c> keeps run.c's command line, temperature
/// 1.0 included.)
/// </summary>
public sealed record SamplingOptions
{
    /// <summary>Divides the logits before softmax; 0 (the default) means greedy (argmax). Must be ≥ 0 and finite.</summary>
    public float Temperature { get; init; }

    /// <summary>
    /// Nucleus sampling: sample among the most probable tokens whose cumulative probability first
    /// exceeds this value. 0 or 1 (or more) disables it, as in run.c.
    /// </summary>
    public float TopP { get; init; } = 0.9f;

    /// <summary>Keep only the <c>TopK</c> most probable tokens before top-p; 0 disables it.</summary>
    public int TopK { get; init; }

    /// <summary>
    /// Seed of the xorshift* generator. The same seed and settings reproduce run.c's choices exactly.
    /// Null or 0 seeds from the clock, as run.c does.
    /// </summary>
    public ulong? Seed { get; init; }

    /// <summary>Greedy decoding: always the most probable token.</summary>
    public static SamplingOptions Greedy { get; } = new() { Temperature = 0f };

    /// <summary>Throws <see cref="ArgumentOutOfRangeException"/> naming the first invalid setting.</summary>
    public void Validate()
    {
        if (!float.IsFinite(Temperature) || Temperature < 0)
            throw new ArgumentOutOfRangeException(nameof(Temperature), Temperature, "Temperature must be a finite number ≥ 0 (0 = greedy).");
        if (!float.IsFinite(TopP) || TopP < 0)
            throw new ArgumentOutOfRangeException(nameof(TopP), TopP, "Top-p must be a finite number ≥ 0 (0 or ≥ 1 disables it).");
        if (TopK < 0)
            throw new ArgumentOutOfRangeException(nameof(TopK), TopK, "Top-k must be ≥ 0 (0 disables it).");
    }
}
