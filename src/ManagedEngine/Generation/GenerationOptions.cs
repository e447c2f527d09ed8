using MlPipelines.ManagedEngine.Sampling;

namespace MlPipelines.ManagedEngine.Generation;

/// <summary>Settings of one generation run.</summary>
public sealed record GenerationOptions
{
    /// <summary>
    /// run.c's <c>-n steps</c>: the total number of positions, prompt included (so at most
    /// <c>MaxSteps - promptTokens + 1</c> new tokens). 0, or more than the context, means the whole context.
    /// </summary>
    public int MaxSteps { get; init; } = 256;

    /// <summary>
    /// At most this many new (sampled) tokens, whatever the prompt's length; 0 (the default) sets no limit beyond
    /// <see cref="MaxSteps"/>. The ML.NET generate transform and chat-style callers count this way; <see cref="MaxSteps"/>
    /// keeps run.c's meaning for compatibility with its command line.
    /// </summary>
    public int MaxNewTokens { get; init; }

    /// <summary>How each new token is chosen.</summary>
    public SamplingOptions Sampling { get; init; } = new();

    /// <summary>
    /// Stop when the model produces EOS or another of its end ids (<see cref="Model.ModelConfig.StopIds"/>; it always stops
    /// on BOS, which llama2.c models emit between stories). The ending token itself is not returned.
    /// </summary>
    public bool StopAtEos { get; init; } = true;

    /// <summary>
    /// Further ids that end the generation (not returned), whatever <see cref="StopAtEos"/> says: e.g. a chat template's
    /// end-of-turn token. Kept short: it is scanned once per token.
    /// </summary>
    public IReadOnlyList<int> StopTokenIds { get; init; } = [];

    /// <summary>Throws <see cref="ArgumentOutOfRangeException"/> naming the first invalid setting.</summary>
    public void Validate()
    {
        if (MaxSteps < 0)
            throw new ArgumentOutOfRangeException(nameof(MaxSteps), MaxSteps, "Steps must be ≥ 0 (0 = the model's context length).");
        if (MaxNewTokens < 0)
            throw new ArgumentOutOfRangeException(nameof(MaxNewTokens), MaxNewTokens, "New tokens must be ≥ 0 (0 = no limit beyond MaxSteps).");
        ArgumentNullException.ThrowIfNull(Sampling);
        ArgumentNullException.ThrowIfNull(StopTokenIds);
        Sampling.Validate();
    }
}

/// <summary>
/// One token of a generation stream: the token run.c would print next, the token before it (which
/// decides whether a leading space is dropped after BOS), and whether it was forced by the prompt.
/// </summary>
public readonly record struct GeneratedToken(int Id, int Previous, bool IsPrompt);
