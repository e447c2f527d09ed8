using MlPipelines.ManagedEngine.Model;
using MlPipelines.ManagedEngine.Tokenization;
using MlPipelines.ManagedEngine.Tokenization.HuggingFace;

namespace MlPipelines.ManagedEngine.Chat;

/// <summary>
/// Turns a rendered chat prompt into token ids, and says which ids end the assistant's turn. A rendered template
/// already holds its control tokens as text (<c>&lt;|begin_of_text|&gt;</c>, <c>&lt;s&gt;[INST]</c>), so they are
/// matched as tokens and nothing is added around the text, as <c>apply_chat_template(tokenize=True)</c> does.
/// </summary>
public static class ChatPrompt
{
    /// <summary>The ids of <paramref name="prompt"/>, control tokens included as single ids.</summary>
    public static int[] Encode(PieceTokenizer tokenizer, ChatFormat format, string prompt)
    {
        ArgumentNullException.ThrowIfNull(tokenizer);
        ArgumentNullException.ThrowIfNull(format);
        ArgumentNullException.ThrowIfNull(prompt);
        if (tokenizer is HuggingFaceTokenizer huggingFace)
            return huggingFace.Encode(prompt, addBos: false, addEos: false, parseSpecialTokens: true);

        // SentencePiece and llama2.c vocabularies know only BOS and EOS as control tokens: split the text at theirs.
        var ids = new List<int>();
        int start = 0;
        while (start < prompt.Length)
        {
            (int at, string? token, int id) = NextControl(prompt, start, format, tokenizer);
            if (at > start)
                ids.AddRange(tokenizer.Encode(prompt[start..at], addBos: false, addEos: false));
            if (token is null) break;
            ids.Add(id);
            start = at + token.Length;
        }
        return ids.ToArray();
    }

    /// <summary>
    /// The ids that end the assistant's turn: the model's EOS and other end ids (<see cref="ModelConfig.StopIds"/>), the
    /// template's <c>eos_token</c>, and the special tokens chat formats close a turn with (Llama 3's
    /// <c>&lt;|eot_id|&gt;</c>, ChatML's <c>&lt;|im_end|&gt;</c>, ...) when the vocabulary has them: early Llama 3
    /// Instruct configurations name <c>&lt;|end_of_text|&gt;</c> as eos, yet the model ends its turns with
    /// <c>&lt;|eot_id|&gt;</c> (llama.cpp stops at these texts for the same reason).
    /// </summary>
    public static IReadOnlyList<int> StopIds(ModelConfig config, PieceTokenizer tokenizer, ChatFormat format)
    {
        var ids = new List<int> { config.EosId };
        ids.AddRange(config.StopIds);
        if (tokenizer is HuggingFaceTokenizer huggingFace)
        {
            foreach (string? text in (ReadOnlySpan<string?>)[format.EosToken, .. EndOfTurnTokens])
                if (text is not null && huggingFace.TryGetTokenId(text, out int id) && (text == format.EosToken || huggingFace.IsSpecial(id)))
                    ids.Add(id);
        }
        else if (format.EosToken is not null && tokenizer.EosId >= 0)
        {
            ids.Add(tokenizer.EosId);
        }
        return ids.Distinct().ToArray();
    }

    /// <summary>Texts of the special tokens that close a turn in common chat formats.</summary>
    private static readonly string[] EndOfTurnTokens = ["<|eot_id|>", "<|eom_id|>", "<|im_end|>", "<|end|>", "<end_of_turn>", "<|end_of_turn|>"];

    private static (int At, string? Token, int Id) NextControl(string text, int start, ChatFormat format, PieceTokenizer tokenizer)
    {
        (int at, string? token, int id) best = (text.Length, null, -1);
        foreach ((string? token, int id) in new[] { (format.BosToken, tokenizer.BosId), (format.EosToken, tokenizer.EosId) })
        {
            if (string.IsNullOrEmpty(token) || id < 0) continue;
            int at = text.IndexOf(token, start, StringComparison.Ordinal);
            if (at >= 0 && at < best.at) best = (at, token, id);
        }
        return best;
    }
}
