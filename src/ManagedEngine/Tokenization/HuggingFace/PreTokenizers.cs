namespace MlPipelines.ManagedEngine.Tokenization.HuggingFace;

/// <summary>One pre-tokenizer of a tokenizer.json: splits each piece of text into smaller pieces.</summary>
internal abstract class PreTokenizerStep
{
    public abstract void Split(AlignedText piece, List<AlignedText> output);

    /// <summary>Runs <paramref name="steps"/> in order over every piece, dropping empty pieces as tokenizers does.</summary>
    public static List<AlignedText> Run(IReadOnlyList<PreTokenizerStep> steps, AlignedText text)
    {
        var pieces = new List<AlignedText> { text };
        foreach (PreTokenizerStep step in steps)
        {
            var next = new List<AlignedText>(pieces.Count * 2);
            foreach (AlignedText piece in pieces) step.Split(piece, next);
            pieces = next;
        }
        pieces.RemoveAll(p => p.Length == 0);
        return pieces;
    }
}

/// <summary>tokenizers' SplitDelimiterBehavior: what becomes of the pattern's matches.</summary>
internal enum SplitBehavior { Removed, Isolated, MergedWithPrevious, MergedWithNext, Contiguous }

/// <summary><c>Split</c>: cuts a piece at a pattern's matches (also <c>Digits</c>, whose pattern is \p{N}).</summary>
internal sealed class SplitStep(CodePointRegex pattern, SplitBehavior behavior, bool invert) : PreTokenizerStep
{
    public CodePointRegex Pattern => pattern;
    public SplitBehavior Behavior => behavior;
    public bool Invert => invert;

    public override void Split(AlignedText piece, List<AlignedText> output)
    {
        foreach (var (start, length) in Cut(piece.Text))
            output.Add(piece.Slice(start, length));
    }

    /// <summary>tokenizers' NormalizedString::split: the pieces as (start, length).</summary>
    public List<(int Start, int Length)> Cut(string text)
    {
        // Every char lies in a match or in a gap between matches.
        var parts = new List<(int Start, int End, bool IsMatch)>();
        int previous = 0;
        foreach (var (start, length) in pattern.Matches(text))
        {
            if (start > previous) parts.Add((previous, start, invert));
            parts.Add((start, start + length, !invert));
            previous = start + length;
        }
        if (previous < text.Length) parts.Add((previous, text.Length, invert));

        var pieces = new List<(int Start, int End)>(parts.Count);
        switch (behavior)
        {
            case SplitBehavior.Removed:
                foreach (var p in parts) if (!p.IsMatch) pieces.Add((p.Start, p.End));
                break;
            case SplitBehavior.Isolated:
                foreach (var p in parts) pieces.Add((p.Start, p.End));
                break;
            case SplitBehavior.MergedWithPrevious:
            {
                bool previousMatch = false;
                foreach (var p in parts)
                {
                    if (p.IsMatch && !previousMatch && pieces.Count > 0) pieces[^1] = (pieces[^1].Start, p.End);
                    else pieces.Add((p.Start, p.End));
                    previousMatch = p.IsMatch;
                }
                break;
            }
            case SplitBehavior.MergedWithNext:
            {
                // Right to left, as tokenizers does it: a match joins the piece after it.
                bool previousMatch = false;
                for (int i = parts.Count - 1; i >= 0; i--)
                {
                    var p = parts[i];
                    if (p.IsMatch && !previousMatch && pieces.Count > 0) pieces[^1] = (p.Start, pieces[^1].End);
                    else pieces.Add((p.Start, p.End));
                    previousMatch = p.IsMatch;
                }
                pieces.Reverse();
                break;
            }
            case SplitBehavior.Contiguous:
            {
                bool previousMatch = false;
                foreach (var p in parts)
                {
                    if (p.IsMatch == previousMatch && pieces.Count > 0) pieces[^1] = (pieces[^1].Start, p.End);
                    else pieces.Add((p.Start, p.End));
                    previousMatch = p.IsMatch;
                }
                break;
            }
        }
        var result = new List<(int, int)>(pieces.Count);
        foreach (var (start, end) in pieces) result.Add((start, end - start));
        return result;
    }
}

/// <summary>
/// <c>ByteLevel</c>: optionally a space in front (when the piece does not start with one), optionally
/// GPT-2's split, then every piece as its UTF-8 bytes in GPT-2's byte alphabet.
/// </summary>
internal sealed class ByteLevelStep(bool addPrefixSpace, SplitStep? gpt2Split) : PreTokenizerStep
{
    /// <summary>GPT-2's pattern, which <c>use_regex: true</c> applies.</summary>
    public const string Gpt2Pattern = @"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+";

    public bool AddPrefixSpace => addPrefixSpace;
    public bool UsesGpt2Split => gpt2Split is not null;

    public override void Split(AlignedText piece, List<AlignedText> output)
    {
        if (addPrefixSpace && !piece.Text.StartsWith(' ')) piece = piece.Prepend(" ");
        if (gpt2Split is null)
        {
            output.Add(piece.ToByteLevel());
            return;
        }
        foreach (var (start, length) in gpt2Split.Cut(piece.Text))
            output.Add(piece.Slice(start, length).ToByteLevel());
    }
}

/// <summary>
/// <c>Metaspace</c>: spaces become the replacement ('▁'), which is put in front as the prepend scheme
/// says ("always"; "first": only for the piece at the start of the text; "never"), and optionally a split
/// before each replacement.
/// </summary>
internal sealed class MetaspaceStep(char replacement, string prependScheme, bool split) : PreTokenizerStep
{
    public override void Split(AlignedText piece, List<AlignedText> output)
    {
        var spaces = new List<(int, int)>();
        for (int i = 0; i < piece.Length; i++) if (piece.Text[i] == ' ') spaces.Add((i, 1));
        piece = piece.Replace(spaces, replacement.ToString());
        bool prepend = prependScheme == "always" || prependScheme == "first" && piece.OriginalStart == 0;
        if (prepend && !piece.Text.StartsWith(replacement)) piece = piece.Prepend(replacement.ToString());
        if (!split)
        {
            output.Add(piece);
            return;
        }
        int start = 0;
        for (int i = 1; i <= piece.Length; i++)
            if (i == piece.Length || piece.Text[i] == replacement)
            {
                output.Add(piece.Slice(start, i - start));
                start = i;
            }
    }
}
