namespace MlPipelines.AI;

/// <summary>
/// A prompt does not fit the model's context (one position must stay free for the reply). An <see cref="ArgumentException"/>,
/// so callers that catch bad arguments still catch it; a server tells it apart to answer OpenAI's <c>context_length_exceeded</c>.
/// </summary>
public sealed class ContextLengthExceededException : ArgumentException
{
    /// <summary>Creates the exception for a prompt of <paramref name="promptTokens"/> tokens against a context of <paramref name="contextLength"/>.</summary>
    public ContextLengthExceededException(int promptTokens, int contextLength, string? paramName)
        : base($"The conversation is {promptTokens} tokens, which fills the model's context of {contextLength}.", paramName)
    {
        PromptTokens = promptTokens;
        ContextLength = contextLength;
    }

    /// <summary>How many tokens the prompt is.</summary>
    public int PromptTokens { get; }

    /// <summary>The model's context length in tokens.</summary>
    public int ContextLength { get; }
}
