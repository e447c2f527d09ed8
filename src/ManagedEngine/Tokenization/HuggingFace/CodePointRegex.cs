using System.Globalization;
using System.Text.RegularExpressions;

namespace MlPipelines.ManagedEngine.Tokenization.HuggingFace;

/// <summary>
/// A pre-tokenizer pattern run the way Oniguruma (Hugging Face tokenizers) and llama.cpp run it: over
/// code points. .NET's <see cref="Regex"/> works on UTF-16 chars, so a character outside the BMP is two
/// surrogates of category Cs and <c>\p{L}</c> would not match a letter such as 𝐀 or 𠀀, and
/// <c>\p{N}{1,3}</c> would count halves. Text that holds surrogate pairs is therefore matched in a copy
/// where each pair is one BMP stand-in char of the same Unicode category (none of which the patterns
/// name literally), and the matches are mapped back.
/// </summary>
/// <remarks>
/// The patterns used by Llama-family tokenizers (GPT-2's, Llama 3's, llama.cpp's pre-tokenizer sets)
/// mean the same in .NET: <c>\s</c> is the same set (White_Space), <c>\p{L}</c>/<c>\p{N}</c> are
/// general categories, alternation is ordered and quantifiers greedy with backtracking in both.
/// Possessive quantifiers (<c>?+</c>, <c>++</c>, <c>*+</c>), which .NET lacks, are rejected with
/// <see cref="NotSupportedException"/> rather than silently read differently.
/// </remarks>
internal sealed class CodePointRegex
{
    private readonly Regex _regex;

    public CodePointRegex(string pattern, string source)
    {
        Pattern = pattern;
        try
        {
            _regex = new Regex(pattern, RegexOptions.CultureInvariant | RegexOptions.Compiled);
        }
        catch (ArgumentException e)
        {
            throw new NotSupportedException($"'{source}': the pre-tokenizer pattern /{pattern}/ is not a .NET regular expression ({e.Message}); possessive quantifiers are not supported.", e);
        }
    }

    public string Pattern { get; }

    /// <summary>Non-empty matches, left to right, as (start, length) in <paramref name="text"/>'s chars.</summary>
    public List<(int Start, int Length)> Matches(string text)
    {
        var result = new List<(int, int)>();
        if (!HasSurrogatePair(text))
        {
            for (Match m = _regex.Match(text); m.Success; m = m.NextMatch())
                if (m.Length > 0) result.Add((m.Index, m.Length));
            return result;
        }

        // One char per code point; origin[i] is where stand-in i starts in text (origin[^1] = text.Length).
        var chars = new char[text.Length];
        var origin = new int[text.Length + 1];
        int n = 0;
        for (int i = 0; i < text.Length; n++)
        {
            origin[n] = i;
            if (char.IsHighSurrogate(text[i]) && i + 1 < text.Length && char.IsLowSurrogate(text[i + 1]))
            {
                chars[n] = StandIn(CharUnicodeInfo.GetUnicodeCategory(char.ConvertToUtf32(text[i], text[i + 1])));
                i += 2;
            }
            else
            {
                chars[n] = text[i++];
            }
        }
        origin[n] = text.Length;
        string mapped = new(chars, 0, n);
        for (Match m = _regex.Match(mapped); m.Success; m = m.NextMatch())
            if (m.Length > 0) result.Add((origin[m.Index], origin[m.Index + m.Length] - origin[m.Index]));
        return result;
    }

    private static bool HasSurrogatePair(string text)
    {
        for (int i = 0; i + 1 < text.Length; i++)
            if (char.IsHighSurrogate(text[i]) && char.IsLowSurrogate(text[i + 1])) return true;
        return false;
    }

    /// <summary>A BMP character of the same general category (outside ASCII, so no pattern names it).</summary>
    private static char StandIn(UnicodeCategory category) => category switch
    {
        UnicodeCategory.UppercaseLetter => '\u0100',
        UnicodeCategory.LowercaseLetter => '\u0101',
        UnicodeCategory.TitlecaseLetter => '\u01C5',
        UnicodeCategory.ModifierLetter => '\u02B0',
        UnicodeCategory.OtherLetter => '\u05D0',
        UnicodeCategory.NonSpacingMark => '\u0300',
        UnicodeCategory.SpacingCombiningMark => '\u0903',
        UnicodeCategory.EnclosingMark => '\u20DD',
        UnicodeCategory.DecimalDigitNumber => '\u0660',
        UnicodeCategory.LetterNumber => '\u2160',
        UnicodeCategory.OtherNumber => '\u00B2',
        UnicodeCategory.MathSymbol => '\u00AC',
        UnicodeCategory.CurrencySymbol => '\u00A2',
        UnicodeCategory.ModifierSymbol => '\u00B4',
        UnicodeCategory.OtherSymbol => '\u00A6',
        UnicodeCategory.ConnectorPunctuation => '\u203F',
        UnicodeCategory.DashPunctuation => '\u2010',
        UnicodeCategory.OpenPunctuation => '\u2045',
        UnicodeCategory.ClosePunctuation => '\u2046',
        UnicodeCategory.InitialQuotePunctuation => '\u00AB',
        UnicodeCategory.FinalQuotePunctuation => '\u00BB',
        UnicodeCategory.OtherPunctuation => '\u00A1',
        UnicodeCategory.Format => '\u00AD',
        UnicodeCategory.OtherNotAssigned => '\u0378',
        _ => '\uE000', // private use (the only other category outside the BMP)
    };
}
