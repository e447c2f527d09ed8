using System.Globalization;
using System.Text;

namespace MlPipelines.ChatTemplates.Runtime;

/// <summary>Python string helpers and Jinja globals shared by methods and filters.</summary>
internal static class Builtins
{
    /// <summary>The sandbox's cap on <c>range()</c> (jinja2.sandbox.MAX_RANGE).</summary>
    public const int MaxRange = 100_000;

    public static PyList Range(IReadOnlyList<object?> args)
    {
        long Int(object? v) => v switch
        {
            long l => l,
            bool b => b ? 1 : 0,
            Undefined u => throw new TemplateRuntimeError(u.Hint),
            _ => throw new TemplateRuntimeError($"'{PyOps.TypeName(v)}' object cannot be interpreted as an integer"),
        };
        long start = 0, stop, step = 1;
        switch (args.Count)
        {
            case 1: stop = Int(args[0]); break;
            case 2: start = Int(args[0]); stop = Int(args[1]); break;
            case 3: start = Int(args[0]); stop = Int(args[1]); step = Int(args[2]); break;
            default: throw new TemplateRuntimeError($"range expected 1 to 3 arguments, got {args.Count}");
        }
        if (step == 0) throw new TemplateRuntimeError("range() arg 3 must not be zero");
        long count = step > 0 ? (stop > start ? (stop - start + step - 1) / step : 0) : (start > stop ? (start - stop - step - 1) / -step : 0);
        if (count > MaxRange) throw new TemplateRuntimeError($"Range too big. The sandbox blocks ranges larger than MAX_RANGE ({MaxRange}).");
        var list = new PyList();
        for (long i = 0, v = start; i < count; i++, v += step) list.Add(v);
        return list;
    }

    public static List<string> Split(string s, string? sep, long maxSplit, bool fromRight)
    {
        if (sep == null)
        {
            // Runs of whitespace separate; leading and trailing whitespace make no empty parts.
            var words = new List<(int Start, int End)>();
            int i = 0;
            while (i < s.Length)
            {
                while (i < s.Length && PyOps.IsSpace(s[i])) i++;
                if (i >= s.Length) break;
                int start = i;
                while (i < s.Length && !PyOps.IsSpace(s[i])) i++;
                words.Add((start, i));
            }
            if (maxSplit < 0 || words.Count <= maxSplit + 1) return words.Select(w => s[w.Start..w.End]).ToList();
            if (!fromRight)
            {
                var result = words.Take((int)maxSplit).Select(w => s[w.Start..w.End]).ToList();
                result.Add(PyOps.Strip(s[words[(int)maxSplit].Start..], null, false, true));
                return result;
            }
            else
            {
                int keep = words.Count - (int)maxSplit;
                var result = new List<string> { PyOps.Strip(s[..words[keep - 1].End], null, true, false) };
                result.AddRange(words.Skip(keep).Select(w => s[w.Start..w.End]));
                return result;
            }
        }
        if (sep.Length == 0) throw new TemplateRuntimeError("empty separator");
        var parts = s.Split(sep, StringSplitOptions.None).ToList();
        if (maxSplit < 0 || parts.Count <= maxSplit + 1) return parts;
        if (!fromRight)
        {
            var head = parts.Take((int)maxSplit).ToList();
            head.Add(string.Join(sep, parts.Skip((int)maxSplit)));
            return head;
        }
        int cut = parts.Count - (int)maxSplit;
        var tail = new List<string> { string.Join(sep, parts.Take(cut)) };
        tail.AddRange(parts.Skip(cut));
        return tail;
    }

    public static List<string> SplitLines(string s, bool keepEnds)
    {
        var lines = new List<string>();
        int start = 0, i = 0;
        while (i < s.Length)
        {
            char c = s[i];
            int eol = 0;
            if (c == '\r' && i + 1 < s.Length && s[i + 1] == '\n') eol = 2;
            else if (c is '\n' or '\r' or '\v' or '\f' or '\x1c' or '\x1d' or '\x1e' or '\x85' or '\u2028' or '\u2029') eol = 1;
            if (eol > 0)
            {
                lines.Add(keepEnds ? s[start..(i + eol)] : s[start..i]);
                i += eol;
                start = i;
            }
            else i++;
        }
        if (start < s.Length) lines.Add(s[start..]);
        return lines;
    }

    public static string Replace(string s, string old, string @new, long count)
    {
        // The result's length first: a short string and a long replacement can make one far longer than both.
        long limit = count < 0 ? long.MaxValue : count;
        long replaced = old.Length == 0 ? Math.Min(limit, s.Length + 1L) : Math.Min(limit, Occurrences(s, old));
        PyOps.WillMake(s.Length + replaced * ((long)@new.Length - old.Length));
        if (count < 0) return old.Length == 0 ? InsertEverywhere(s, @new, long.MaxValue) : s.Replace(old, @new, StringComparison.Ordinal);
        if (old.Length == 0) return InsertEverywhere(s, @new, count);
        var sb = new StringBuilder();
        int pos = 0;
        for (long n = 0; n < count; n++)
        {
            int i = s.IndexOf(old, pos, StringComparison.Ordinal);
            if (i < 0) break;
            sb.Append(s, pos, i - pos).Append(@new);
            pos = i + old.Length;
        }
        return sb.Append(s, pos, s.Length - pos).ToString();
    }

    private static long Occurrences(string s, string old)
    {
        long n = 0;
        for (int i = s.IndexOf(old, StringComparison.Ordinal); i >= 0; i = s.IndexOf(old, i + old.Length, StringComparison.Ordinal)) n++;
        return n;
    }

    private static string InsertEverywhere(string s, string insert, long count)
    {
        var chars = PyOps.Characters(s);
        var sb = new StringBuilder();
        long n = 0;
        foreach (object? c in chars)
        {
            if (n++ < count) sb.Append(insert);
            sb.Append((string)c!);
        }
        if (n < count) sb.Append(insert);
        return sb.ToString();
    }

    /// <summary>Python's <c>str.title()</c>: a cased letter after an uncased character starts a word.</summary>
    public static string PyTitle(string s)
    {
        var sb = new StringBuilder(s.Length);
        bool previousCased = false;
        foreach (char c in s)
        {
            bool cased = char.IsUpper(c) || char.IsLower(c) || CharUnicodeInfo.GetUnicodeCategory(c) == UnicodeCategory.TitlecaseLetter;
            sb.Append(cased ? (previousCased ? char.ToLowerInvariant(c) : char.ToUpperInvariant(c)) : c);
            previousCased = cased;
        }
        return sb.ToString();
    }

    /// <summary>Python's <c>str.capitalize()</c>: the first character upper case, the rest lower case.</summary>
    public static string Capitalize(string s) =>
        s.Length == 0 ? s : char.ToUpperInvariant(s[0]) + s[1..].ToLowerInvariant();

    /// <summary>Python's <c>'%s' % value</c> for the conversions templates use (%s, %d, %i, %r, %%).</summary>
    public static string PercentFormat(string format, object? value)
    {
        var values = value is PyTuple t ? t.ToList() : [value];
        var sb = new StringBuilder();
        int next = 0;
        for (int i = 0; i < format.Length; i++)
        {
            char c = format[i];
            if (c != '%') { sb.Append(c); continue; }
            if (++i >= format.Length) throw new TemplateRuntimeError("incomplete format");
            char conv = format[i];
            if (conv == '%') { sb.Append('%'); continue; }
            if (next >= values.Count) throw new TemplateRuntimeError("not enough arguments for format string");
            object? v = values[next++];
            sb.Append(conv switch
            {
                's' => PyOps.Str(v),
                'r' => PyOps.Repr(v),
                'd' or 'i' => v is long or bool ? PyOps.Repr(v is bool b ? (b ? 1L : 0L) : v)
                    : v is double d ? PyOps.Repr((long)Math.Truncate(d)) : throw new TemplateRuntimeError("%d format: a real number is required"),
                _ => throw new TemplateRuntimeError($"unsupported format character '{conv}'"),
            });
        }
        if (next < values.Count) throw new TemplateRuntimeError("not all arguments converted during string formatting");
        return sb.ToString();
    }
}

/// <summary>Python's <c>datetime.strftime</c> in the C locale, for Hugging Face's <c>strftime_now</c>.</summary>
internal static class Strftime
{
    public static string Format(string format, DateTime now)
    {
        var inv = CultureInfo.InvariantCulture;
        var sb = new StringBuilder();
        for (int i = 0; i < format.Length; i++)
        {
            if (format[i] != '%' || i + 1 >= format.Length) { sb.Append(format[i]); continue; }
            char d = format[++i];
            sb.Append(d switch
            {
                'a' => now.ToString("ddd", inv),
                'A' => now.ToString("dddd", inv),
                'b' or 'h' => now.ToString("MMM", inv),
                'B' => now.ToString("MMMM", inv),
                'd' => now.Day.ToString("00", inv),
                'e' => now.Day.ToString(inv).PadLeft(2),
                'm' => now.Month.ToString("00", inv),
                'y' => (now.Year % 100).ToString("00", inv),
                'Y' => now.Year.ToString(inv),
                'H' => now.Hour.ToString("00", inv),
                'I' => ((now.Hour + 11) % 12 + 1).ToString("00", inv),
                'M' => now.Minute.ToString("00", inv),
                'S' => now.Second.ToString("00", inv),
                'f' => (now.Ticks % TimeSpan.TicksPerSecond / 10).ToString("000000", inv),
                'p' => now.Hour < 12 ? "AM" : "PM",
                'j' => now.DayOfYear.ToString("000", inv),
                'w' => ((int)now.DayOfWeek).ToString(inv),
                'u' => (now.DayOfWeek == DayOfWeek.Sunday ? 7 : (int)now.DayOfWeek).ToString(inv),
                'F' => now.ToString("yyyy-MM-dd", inv),
                'T' => now.ToString("HH:mm:ss", inv),
                'D' => now.ToString("MM/dd/yy", inv),
                'R' => now.ToString("HH:mm", inv),
                'n' => "\n",
                't' => "\t",
                '%' => "%",
                _ => "%" + d,
            });
        }
        return sb.ToString();
    }
}
