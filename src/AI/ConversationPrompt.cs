using MlPipelines.ManagedEngine.Chat;
using MlPipelines.ManagedEngine.Model;
using MlPipelines.ManagedEngine.Tokenization;
using AIChatMessage = Microsoft.Extensions.AI.ChatMessage;
using TemplateMessage = MlPipelines.ChatTemplates.ChatMessage;

namespace MlPipelines.AI;

/// <summary>
/// A conversation as the model's prompt tokens, and the ids that end the reply: in the model's chat template when it has
/// one (as <c>mlpipe chat</c> renders it), else as plain text (see <see cref="LlamaChatClientOptions.RequireChatTemplate"/>).
/// </summary>
internal sealed class ConversationPrompt(PieceTokenizer tokenizer, ModelConfig config, ChatFormat? format)
{
    /// <summary>Ids that end the reply besides BOS and the model's end ids.</summary>
    public IReadOnlyList<int> StopIds { get; } = format is null ? [] : ChatPrompt.StopIds(config, tokenizer, format);

    /// <summary>
    /// The prompt's token ids; <paramref name="instructions"/> (ChatOptions.Instructions) go first as a system message.
    /// <paramref name="plainText"/>: the messages as plain text even when the model has a chat template (a completion).
    /// </summary>
    /// <exception cref="ArgumentException">The conversation renders to nothing.</exception>
    /// <exception cref="ContextLengthExceededException">The conversation fills the model's context.</exception>
    public int[] Encode(IEnumerable<AIChatMessage> messages, string? instructions, bool plainText = false)
    {
        var turns = new List<TemplateMessage>();
        if (!string.IsNullOrEmpty(instructions)) turns.Add(TemplateMessage.System(instructions));
        foreach (AIChatMessage message in messages)
            turns.Add(new TemplateMessage(message.Role.Value, message.Text));

        int[] ids = format is null || plainText
            ? tokenizer.Encode(string.Join('\n', turns.Select(t => t.Content)), addBos: true, addEos: false)
            : ChatPrompt.Encode(tokenizer, format, format.Render(turns, addGenerationPrompt: true));
        if (ids.Length == 0)
            throw new ArgumentException("The conversation renders to an empty prompt; give at least one message.", nameof(messages));
        // One position must stay free for the reply's first token.
        if (ids.Length >= config.MaxSequenceLength)
            throw new ContextLengthExceededException(ids.Length, config.MaxSequenceLength, nameof(messages));
        return ids;
    }
}
