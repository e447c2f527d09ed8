namespace MlPipelines.Hub;

/// <summary>
/// Python's <c>fnmatch.fnmatchcase</c>, the matcher <c>huggingface_hub</c> applies to <c>allow_patterns</c> and
/// <c>ignore_patterns</c>: <c>*</c> matches any run of characters <em>including '/'</em>, <c>?</c> any one
/// character, <c>[seq]</c> / <c>[!seq]</c> a character (not) in the set, with <c>a-z</c> ranges; a <c>[</c>
/// without a closing <c>]</c> is literal, and there is no escape character. Case-sensitive, as on Linux.
/// </summary>
/// <remarks>
/// Written by hand rather than taken from Microsoft.Extensions.FileSystemGlobbing because that library's <c>*</c>
/// stops at '/', so <c>*.safetensors</c> would miss <c>original/model.safetensors</c> and patterns copied from
/// <c>huggingface-cli download --include</c> would select different files here.
/// </remarks>
public static class GlobPattern
{
    /// <summary>True when the whole of <paramref name="name"/> matches <paramref name="pattern"/>.</summary>
    public static bool IsMatch(string name, string pattern)
    {
        ArgumentNullException.ThrowIfNull(name);
        ArgumentNullException.ThrowIfNull(pattern);
        // The classic wildcard walk: on a mismatch, go back to the last '*' and let it swallow one more character.
        // Only the last '*' needs remembering: an earlier one can never need to swallow more than it already did.
        int p = 0, s = 0, starP = -1, starS = 0;
        while (s < name.Length)
        {
            if (p < pattern.Length)
            {
                char c = pattern[p];
                if (c == '*')
                {
                    starP = p++;
                    starS = s;
                    continue;
                }
                if (c == '?')
                {
                    p++;
                    s++;
                    continue;
                }
                int classEnd = c == '[' ? ClassEnd(pattern, p) : -1;
                if (classEnd >= 0)
                {
                    if (ClassMatches(pattern, p + 1, classEnd, name[s]))
                    {
                        p = classEnd + 1;
                        s++;
                        continue;
                    }
                }
                else if (c == name[s])
                {
                    p++;
                    s++;
                    continue;
                }
            }
            if (starP < 0) return false;
            p = starP + 1;
            s = ++starS;
        }
        while (p < pattern.Length && pattern[p] == '*') p++;
        return p == pattern.Length;
    }

    /// <summary>
    /// The index of the ']' closing the set opened at <paramref name="open"/>, or -1 when there is none (the '['
    /// is then an ordinary character). As in fnmatch, a ']' right after '[' or '[!' belongs to the set.
    /// </summary>
    private static int ClassEnd(string pattern, int open)
    {
        int j = open + 1;
        if (j < pattern.Length && pattern[j] == '!') j++;
        if (j < pattern.Length && pattern[j] == ']') j++;
        while (j < pattern.Length && pattern[j] != ']') j++;
        return j < pattern.Length ? j : -1;
    }

    /// <summary>Whether <paramref name="c"/> is in the set <c>pattern[start..end)</c> (after its '[').</summary>
    private static bool ClassMatches(string pattern, int start, int end, char c)
    {
        bool negate = start < end && pattern[start] == '!';
        if (negate) start++;
        bool found = false;
        for (int i = start; i < end; i++)
        {
            char lo = pattern[i];
            // "a-z" is a range unless the '-' is the set's last character; a reversed range matches nothing.
            if (i + 2 < end && pattern[i + 1] == '-')
            {
                char hi = pattern[i + 2];
                if (lo <= c && c <= hi) found = true;
                i += 2;
            }
            else if (lo == c)
            {
                found = true;
            }
        }
        return found != negate;
    }
}
