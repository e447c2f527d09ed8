using MlPipelines.ManagedEngine.Sampling;

namespace MlPipelines.AI;

/// <summary>Settings of a <see cref="LlamaChatClient"/>; a request's <see cref="Microsoft.Extensions.AI.ChatOptions"/> override the sampling defaults.</summary>
public sealed record LlamaChatClientOptions
{
    /// <summary>The model id reported in metadata and responses; null: the model's name as the engine describes it.</summary>
    public string? ModelId { get; init; }

    /// <summary>
    /// How many requests generate at once, each on its own session (KV cache); further requests wait for a free one.
    /// Default 1: one session already uses every core the engine was given, so more mostly costs memory.
    /// </summary>
    public int MaxConcurrentSessions { get; init; } = 1;

    /// <summary>Sampling used where a request's options leave a setting unset (default: greedy).</summary>
    public SamplingOptions Sampling { get; init; } = SamplingOptions.Greedy;

    /// <summary>At most this many new tokens per reply when a request sets no <c>MaxOutputTokens</c>; 0 = until the context is full.</summary>
    public int MaxOutputTokens { get; init; } = 512;

    /// <summary>
    /// What happens with a model that has no chat template (a base model such as stories260K). False (the default): the
    /// conversation is written as plain text — each message's text on its own line, after BOS, as <c>mlpipe generate
    /// --prompt</c> encodes a prompt — and the reply is its continuation. True: the client refuses to be created.
    /// </summary>
    public bool RequireChatTemplate { get; init; }

    /// <summary>
    /// Reuse a pooled session's KV cache when a new prompt starts with the tokens it already holds (a conversation's next
    /// turn), running only the new tokens instead of the whole history. Default true.
    /// </summary>
    public bool ReusePrefix { get; init; } = true;

    /// <summary>Throws <see cref="ArgumentOutOfRangeException"/> naming the first invalid setting.</summary>
    public void Validate()
    {
        if (MaxConcurrentSessions < 1)
            throw new ArgumentOutOfRangeException(nameof(MaxConcurrentSessions), MaxConcurrentSessions, "At least one session is needed.");
        if (MaxOutputTokens < 0)
            throw new ArgumentOutOfRangeException(nameof(MaxOutputTokens), MaxOutputTokens, "The default output token limit must be ≥ 0 (0 = the context).");
        ArgumentNullException.ThrowIfNull(Sampling);
        Sampling.Validate();
    }
}
