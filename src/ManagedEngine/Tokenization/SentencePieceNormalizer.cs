using System.Text;

namespace MlPipelines.ManagedEngine.Tokenization;

/// <summary>Normalized text as UTF-8 bytes (one char per byte, see <see cref="PieceIndex"/>) mapped back to the input.</summary>
internal sealed class NormalizedText(string key, int[] originalStart, int[] originalEnd)
{
    public string Key { get; } = key;

    public int Length => Key.Length;

    /// <summary>The input chars that normalized bytes [start, start + length) came from.</summary>
    public Range OriginalRange(int start, int length)
    {
        int from = originalStart[start];
        return from..Math.Max(from, originalEnd[start + length - 1]);
    }
}

/// <summary>
/// sentencepiece's <c>Normalizer::Normalize</c> for the identity rule: optionally drop leading and
/// trailing spaces and collapse runs of spaces (remove_extra_whitespaces), put a space before the text
/// (add_dummy_prefix), and spell spaces '▁' (escape_whitespaces). Only U+0020 counts as a space, as
/// with an identity charsmap. Empty (or, when removing extra whitespace, all-space) text stays empty,
/// without a dummy prefix. A lone surrogate becomes U+FFFD, as sentencepiece does with invalid UTF-8.
/// </summary>
internal static class SentencePieceNormalizer
{
    private static readonly byte[] SpaceSymbol = "\u2581"u8.ToArray();

    public static NormalizedText Normalize(ReadOnlySpan<char> text, bool addDummyPrefix, bool removeExtraWhitespaces, bool escapeWhitespaces)
    {
        var bytes = new StringBuilder(text.Length + 8);
        var starts = new List<int>(text.Length + 8);
        var ends = new List<int>(text.Length + 8);
        ReadOnlySpan<byte> space = escapeWhitespaces ? SpaceSymbol : " "u8;

        void Append(ReadOnlySpan<byte> utf8, int from, int to)
        {
            foreach (byte b in utf8)
            {
                bytes.Append((char)b);
                starts.Add(from);
                ends.Add(to);
            }
        }

        int i = 0;
        if (removeExtraWhitespaces)
            while (i < text.Length && text[i] == ' ') i++;
        if (i == text.Length) return new NormalizedText("", [], []);

        if (addDummyPrefix) Append(space, i, i);

        bool previousSpace = removeExtraWhitespaces;
        Span<byte> utf8 = stackalloc byte[4];
        while (i < text.Length)
        {
            Rune.DecodeFromUtf16(text[i..], out Rune rune, out int used);
            if (rune.Value == ' ')
            {
                if (!previousSpace) Append(space, i, i + used);
                previousSpace = removeExtraWhitespaces;
            }
            else
            {
                Append(utf8[..rune.EncodeToUtf8(utf8)], i, i + used);
                previousSpace = false;
            }
            i += used;
        }

        if (removeExtraWhitespaces)
            while (bytes.Length >= space.Length && EndsWith(bytes, space))
            {
                int keep = bytes.Length - space.Length;
                bytes.Length = keep;
                starts.RemoveRange(keep, space.Length);
                ends.RemoveRange(keep, space.Length);
            }
        return new NormalizedText(bytes.ToString(), starts.ToArray(), ends.ToArray());
    }

    private static bool EndsWith(StringBuilder bytes, ReadOnlySpan<byte> suffix)
    {
        for (int k = 0; k < suffix.Length; k++)
            if (bytes[bytes.Length - suffix.Length + k] != suffix[k]) return false;
        return true;
    }
}
