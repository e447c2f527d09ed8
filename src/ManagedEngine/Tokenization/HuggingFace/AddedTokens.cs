namespace MlPipelines.ManagedEngine.Tokenization.HuggingFace;

/// <summary>An entry of tokenizer.json's <c>added_tokens</c> (or a GGUF control/user-defined token).</summary>
internal sealed record AddedToken(int Id, string Content, bool Special, bool SingleWord = false, bool LStrip = false, bool RStrip = false);

/// <summary>
/// Finds added tokens in text before anything else sees it, leftmost first and the longest at a position
/// (tokenizers' Aho-Corasick LeftmostLongest). Special tokens are looked for only when asked: plain text
/// that happens to read "&lt;|eot_id|&gt;" must not become a control token unless the caller (a chat
/// template, say) means it.
/// </summary>
/// <remarks>
/// lstrip/rstrip widen a match over the whitespace beside it; single_word requires no word character
/// (letter, digit, '_') next to it. All tokens are matched in the original text: tokenizers matches
/// <c>normalized: true</c> tokens in the normalized text instead, which differs only where the
/// normalizer rewrites a token's own text.
/// </remarks>
internal sealed class AddedTokens
{
    private readonly Dictionary<char, AddedToken[]> _byFirstChar = [];

    public AddedTokens(IEnumerable<AddedToken> tokens)
    {
        foreach (var group in tokens.Where(t => t.Content.Length > 0).GroupBy(t => t.Content[0]))
            _byFirstChar[group.Key] = group.OrderByDescending(t => t.Content.Length).ToArray();
    }

    public bool IsEmpty => _byFirstChar.Count == 0;

    /// <summary>Splits <paramref name="text"/> into plain segments (Token null) and added tokens.</summary>
    public List<(int Start, int Length, AddedToken? Token)> Split(ReadOnlySpan<char> text, bool includeSpecial)
    {
        var parts = new List<(int, int, AddedToken?)>();
        int plainStart = 0;
        for (int pos = 0; pos < text.Length;)
        {
            AddedToken? match = IsEmpty ? null : LongestAt(text, pos, includeSpecial);
            if (match is null)
            {
                pos++;
                continue;
            }
            int start = pos, end = pos + match.Content.Length;
            if (match.LStrip) while (start > plainStart && char.IsWhiteSpace(text[start - 1])) start--;
            if (match.RStrip) while (end < text.Length && char.IsWhiteSpace(text[end])) end++;
            if (start > plainStart) parts.Add((plainStart, start - plainStart, null));
            parts.Add((start, end - start, match));
            plainStart = pos = end;
        }
        if (plainStart < text.Length) parts.Add((plainStart, text.Length - plainStart, null));
        return parts;
    }

    private AddedToken? LongestAt(ReadOnlySpan<char> text, int pos, bool includeSpecial)
    {
        if (!_byFirstChar.TryGetValue(text[pos], out AddedToken[]? candidates)) return null;
        foreach (AddedToken token in candidates)
        {
            if (token.Special && !includeSpecial) continue;
            if (!text[pos..].StartsWith(token.Content, StringComparison.Ordinal)) continue;
            if (token.SingleWord)
            {
                int end = pos + token.Content.Length;
                if (pos > 0 && IsWordChar(text[pos - 1]) || end < text.Length && IsWordChar(text[end])) return null;
            }
            return token;
        }
        return null;
    }

    private static bool IsWordChar(char c) => char.IsLetterOrDigit(c) || c == '_';
}
