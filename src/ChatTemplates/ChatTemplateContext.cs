namespace MlPipelines.ChatTemplates;

/// <summary>
/// What <see cref="ChatTemplate.Render(IReadOnlyList{ChatMessage}, ChatTemplateContext?)"/> passes to the template
/// besides the messages, as Hugging Face's <c>apply_chat_template</c> does: <c>add_generation_prompt</c>, the special
/// tokens that are set, <c>tools</c> and <c>documents</c> (<c>none</c> unless given), and any further variables.
/// </summary>
public sealed class ChatTemplateContext
{
    /// <summary>Whether to end with the header of an assistant turn (Hugging Face's <c>add_generation_prompt</c>).</summary>
    public bool AddGenerationPrompt { get; init; }

    /// <summary>The tokenizer's <c>bos_token</c>; left undefined in the template when null.</summary>
    public string? BosToken { get; init; }

    /// <summary>The tokenizer's <c>eos_token</c>; left undefined in the template when null.</summary>
    public string? EosToken { get; init; }

    /// <summary>The tokenizer's <c>unk_token</c>; left undefined in the template when null.</summary>
    public string? UnkToken { get; init; }

    /// <summary>The tokenizer's <c>pad_token</c>; left undefined in the template when null.</summary>
    public string? PadToken { get; init; }

    /// <summary>
    /// The tool schemas (<c>tools</c>): a list of dictionaries or JSON (for example a
    /// <see cref="System.Text.Json.JsonElement"/> array of <c>{"type": "function", "function": {...}}</c>); null
    /// passes <c>none</c>, as Hugging Face does.
    /// </summary>
    public object? Tools { get; init; }

    /// <summary>Documents for retrieval-augmented templates (<c>documents</c>); null passes <c>none</c>.</summary>
    public object? Documents { get; init; }

    /// <summary>
    /// Further variables (Hugging Face's extra keyword arguments), e.g. <c>date_string</c>, <c>enable_thinking</c>,
    /// <c>builtin_tools</c>; they override the ones above when the names clash.
    /// </summary>
    public IReadOnlyDictionary<string, object?>? Variables { get; init; }

    /// <summary>The clock <c>strftime_now</c> reads (local time); <see cref="TimeProvider.System"/> when null.</summary>
    public TimeProvider? TimeProvider { get; init; }
}
