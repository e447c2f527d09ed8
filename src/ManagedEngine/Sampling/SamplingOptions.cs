namespace MlPipelines.ManagedEngine.Sampling;

/// <summary>
/// How the next token is chosen from the logits. The defaults are llama2.c run.c's
/// (temperature 1.0, top-p 0.9, no top-k).
/// </summary>
public sealed record SamplingOptions
{
    /// <summary>Divides the logits before softmax; 0 means greedy (argmax). Must be ≥ 0 and finite.</summary>
    public float Temperature { get; init; } = 1.0f;

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
