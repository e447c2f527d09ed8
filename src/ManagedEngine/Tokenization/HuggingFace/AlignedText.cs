using System.Text;

namespace MlPipelines.ManagedEngine.Tokenization.HuggingFace;

/// <summary>
/// Text being normalized and pre-tokenized, with each char's range in the caller's original text, so
/// that tokens can report offsets however the text was rewritten (Hugging Face's NormalizedString, small).
/// </summary>
internal sealed class AlignedText
{
    public AlignedText(string text, int[] starts, int[] ends, int originalStart)
    {
        Text = text;
        Starts = starts;
        Ends = ends;
        OriginalStart = originalStart;
    }

    public string Text { get; }

    /// <summary>Per char: where its source starts and ends in the original text.</summary>
    public int[] Starts { get; }

    public int[] Ends { get; }

    /// <summary>Where this piece starts in the original text (also when it is empty or begins with inserted chars).</summary>
    public int OriginalStart { get; }

    public int Length => Text.Length;

    public static AlignedText FromOriginal(ReadOnlySpan<char> text, int offset)
    {
        var starts = new int[text.Length];
        var ends = new int[text.Length];
        for (int i = 0; i < text.Length; i++)
        {
            starts[i] = offset + i;
            ends[i] = offset + i + 1;
        }
        return new AlignedText(text.ToString(), starts, ends, offset);
    }

    public AlignedText Slice(int start, int length) =>
        new(Text.Substring(start, length), Starts[start..(start + length)], Ends[start..(start + length)],
            length > 0 ? Starts[start] : OriginalStart);

    /// <summary>The original range of chars [start, start + length).</summary>
    public Range OriginalRange(int start, int length)
    {
        if (length <= 0)
        {
            int at = start < Starts.Length ? Starts[start] : start > 0 ? Ends[start - 1] : OriginalStart;
            return at..at;
        }
        return Starts[start]..Ends[start + length - 1];
    }

    /// <summary>Puts <paramref name="prefix"/> in front; its chars have an empty range at the start.</summary>
    public AlignedText Prepend(string prefix)
    {
        int at = Length > 0 ? Starts[0] : OriginalStart;
        var starts = new int[prefix.Length + Length];
        var ends = new int[starts.Length];
        Array.Fill(starts, at, 0, prefix.Length);
        Array.Fill(ends, at, 0, prefix.Length);
        Starts.CopyTo(starts, prefix.Length);
        Ends.CopyTo(ends, prefix.Length);
        return new AlignedText(prefix + Text, starts, ends, OriginalStart);
    }

    /// <summary>Replaces the given ranges (sorted, disjoint) by <paramref name="content"/>, whose chars take the replaced range.</summary>
    public AlignedText Replace(IReadOnlyList<(int Start, int Length)> matches, string content)
    {
        if (matches.Count == 0) return this;
        var text = new StringBuilder(Text.Length);
        var starts = new List<int>(Text.Length);
        var ends = new List<int>(Text.Length);
        int pos = 0;
        foreach (var (start, length) in matches)
        {
            for (; pos < start; pos++) Keep(pos);
            Range range = OriginalRange(start, length);
            foreach (char c in content)
            {
                text.Append(c);
                starts.Add(range.Start.Value);
                ends.Add(range.End.Value);
            }
            pos = start + length;
        }
        for (; pos < Length; pos++) Keep(pos);
        return new AlignedText(text.ToString(), starts.ToArray(), ends.ToArray(), OriginalStart);

        void Keep(int i)
        {
            text.Append(Text[i]);
            starts.Add(Starts[i]);
            ends.Add(Ends[i]);
        }
    }

    /// <summary>
    /// The UTF-8 bytes of the text as GPT-2's byte characters; each takes the range of the character it
    /// came from. A lone surrogate is encoded as U+FFFD, as a Rust string (which cannot hold one) would.
    /// </summary>
    public AlignedText ToByteLevel()
    {
        var text = new StringBuilder(Length * 2);
        var starts = new List<int>(Length * 2);
        var ends = new List<int>(Length * 2);
        Span<byte> utf8 = stackalloc byte[4];
        for (int i = 0; i < Length;)
        {
            int length = char.IsHighSurrogate(Text[i]) && i + 1 < Length && char.IsLowSurrogate(Text[i + 1]) ? 2 : 1;
            int count = Encoding.UTF8.GetBytes(Text.AsSpan(i, length), utf8);
            Range range = OriginalRange(i, length);
            for (int b = 0; b < count; b++)
            {
                text.Append(ByteLevelAlphabet.Char(utf8[b]));
                starts.Add(range.Start.Value);
                ends.Add(range.End.Value);
            }
            i += length;
        }
        return new AlignedText(text.ToString(), starts.ToArray(), ends.ToArray(), OriginalStart);
    }
}
