using System.Globalization;
using System.Text;

namespace MlPipelines.ChatTemplates.Runtime;

/// <summary>Python's semantics for the template's values: truth, equality, ordering, str/repr, arithmetic.</summary>
internal static class PyOps
{
    /// <summary>The longest string an operation may build (string repetition, joins): a guard against hostile templates.</summary>
    public const int MaxStringLength = 64 * 1024 * 1024;

    public static string TypeName(object? v) => v switch
    {
        null => "NoneType",
        Undefined => "Undefined",
        bool => "bool",
        long => "int",
        double => "float",
        string => "str",
        PyTuple => "tuple",
        PyList => "list",
        PyDict => "dict",
        Namespace => "Namespace",
        LoopInfo => "LoopContext",
        Callable => "function",
        _ => v.GetType().Name,
    };

    /// <summary>How Jinja names an object in "... has no attribute" messages.</summary>
    public static string TypeDescription(object? v) => v switch
    {
        null => "None",
        _ => TypeName(v) + " object",
    };

    public static bool IsTrue(object? v) => v switch
    {
        null => false,
        Undefined => false,
        bool b => b,
        long l => l != 0,
        double d => d != 0,
        string s => s.Length != 0,
        PyList l => l.Count != 0,
        PyDict d => d.Count != 0,
        _ => true,
    };

    public static bool IsNumber(object? v) => v is long or double or bool;

    public static double ToDouble(object? v) => v switch
    {
        long l => l,
        double d => d,
        bool b => b ? 1 : 0,
        _ => throw new TemplateRuntimeError($"expected a number, got {TypeName(v)}"),
    };

    public static bool PyEquals(object? a, object? b)
    {
        if (a is Undefined || b is Undefined) return a is Undefined && b is Undefined;
        if (a == null || b == null) return a == null && b == null;
        if (IsNumber(a) && IsNumber(b))
        {
            if (a is double || b is double) return ToDouble(a) == ToDouble(b);
            return ToLong(a) == ToLong(b);
        }
        switch (a)
        {
            case string sa: return b is string sb && string.Equals(sa, sb, StringComparison.Ordinal);
            case PyList la:
                if (b is not PyList lb || (a is PyTuple) != (b is PyTuple) || la.Count != lb.Count) return false;
                for (int i = 0; i < la.Count; i++)
                    if (!PyEquals(la[i], lb[i])) return false;
                return true;
            case PyDict da:
                if (b is not PyDict db || da.Count != db.Count) return false;
                foreach (var (k, v) in da)
                    if (!db.TryGet(PyDict.Unwrap(k), out object? other) || !PyEquals(v, other)) return false;
                return true;
            default: return ReferenceEquals(a, b);
        }
    }

    private static long ToLong(object v) => v switch { long l => l, bool b => b ? 1 : 0, _ => throw new InvalidOperationException() };

    /// <summary>Python's ordering (&lt; etc.): numbers, strings (by code point), lists and tuples lexicographically.</summary>
    public static int Compare(object? a, object? b, string op)
    {
        if (IsNumber(a) && IsNumber(b))
        {
            if (a is double || b is double)
            {
                double x = ToDouble(a), y = ToDouble(b);
                return x < y ? -1 : x > y ? 1 : x == y ? 0 : throw new TemplateRuntimeError("cannot order NaN");
            }
            return ToLong(a!).CompareTo(ToLong(b!));
        }
        if (a is string sa && b is string sb) return CompareCodePoints(sa, sb);
        if (a is PyList la && b is PyList lb && (a is PyTuple) == (b is PyTuple))
        {
            for (int i = 0; i < Math.Min(la.Count, lb.Count); i++)
                if (!PyEquals(la[i], lb[i])) return Compare(la[i], lb[i], op);
            return la.Count.CompareTo(lb.Count);
        }
        if (a is Undefined || b is Undefined)
            throw new TemplateRuntimeError(((a as Undefined) ?? (Undefined)b!).Hint);
        throw new TemplateRuntimeError($"'{op}' not supported between instances of '{TypeName(a)}' and '{TypeName(b)}'");
    }

    public static int CompareCodePoints(string a, string b)
    {
        // Ordinal UTF-16 order differs from code point order only around surrogates; compare runes to be exact.
        int i = 0, j = 0;
        while (i < a.Length && j < b.Length)
        {
            Rune.DecodeFromUtf16(a.AsSpan(i), out Rune ra, out int na);
            Rune.DecodeFromUtf16(b.AsSpan(j), out Rune rb, out int nb);
            if (ra.Value != rb.Value) return ra.Value.CompareTo(rb.Value);
            i += na;
            j += nb;
        }
        return (a.Length - i).CompareTo(b.Length - j);
    }

    // ---------------------------------------------------------------- str / repr

    /// <summary>Python's <c>str(v)</c> (what <c>{{ v }}</c> prints; Undefined prints empty).</summary>
    public static string Str(object? v) => v switch
    {
        string s => s,
        Undefined => "",
        _ => Repr(v),
    };

    public static string Repr(object? v, int depth = 0)
    {
        if (depth > 256) throw new TemplateRuntimeError("value nests too deeply to print");
        switch (v)
        {
            case null: return "None";
            case Undefined: return "";
            case bool b: return b ? "True" : "False";
            case long l: return l.ToString(CultureInfo.InvariantCulture);
            case double d: return FloatRepr(d);
            case string s: return StringRepr(s);
            case PyTuple t:
                return t.Count == 1 ? "(" + Repr(t[0], depth + 1) + ",)" : "(" + string.Join(", ", t.Select(x => Repr(x, depth + 1))) + ")";
            case PyList l: return "[" + string.Join(", ", l.Select(x => Repr(x, depth + 1))) + "]";
            case PyDict d:
                return "{" + string.Join(", ", d.Select(kv => Repr(PyDict.Unwrap(kv.Key), depth + 1) + ": " + Repr(kv.Value, depth + 1))) + "}";
            case Namespace n:
                return "<Namespace " + string.Join(", ", n.Attributes.Select(kv => Str(kv.Key) + "=" + Repr(kv.Value, depth + 1))) + ">";
            case Callable c: return $"<function {c.Name}>";
            case LoopInfo: return "<LoopContext>";
            default: return v.ToString() ?? "";
        }
    }

    /// <summary>Python's <c>repr(float)</c>: the shortest round-tripping digits, exponent form below 1e-4 and from 1e16.</summary>
    public static string FloatRepr(double d)
    {
        if (double.IsNaN(d)) return "nan";
        if (double.IsPositiveInfinity(d)) return "inf";
        if (double.IsNegativeInfinity(d)) return "-inf";
        string r = d.ToString("R", CultureInfo.InvariantCulture);
        bool negative = r.StartsWith('-');
        if (negative) r = r[1..];
        int exp = 0;
        int e = r.IndexOfAny(['E', 'e']);
        if (e >= 0)
        {
            exp = int.Parse(r[(e + 1)..], NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture);
            r = r[..e];
        }
        int dot = r.IndexOf('.');
        string digits = dot >= 0 ? r[..dot] + r[(dot + 1)..] : r;
        int decpt = (dot >= 0 ? dot : r.Length) + exp;
        // Normalise: strip leading zeros (moving the point) and trailing zeros.
        int lead = 0;
        while (lead < digits.Length - 1 && digits[lead] == '0') { lead++; decpt--; }
        digits = digits[lead..].TrimEnd('0');
        if (digits.Length == 0) { digits = "0"; decpt = 1; }
        var sb = new StringBuilder();
        if (negative) sb.Append('-');
        if (decpt <= -4 || decpt > 16)
        {
            sb.Append(digits[0]);
            if (digits.Length > 1) sb.Append('.').Append(digits, 1, digits.Length - 1);
            int x = decpt - 1;
            sb.Append('e').Append(x < 0 ? '-' : '+').Append(Math.Abs(x).ToString("00", CultureInfo.InvariantCulture));
        }
        else if (decpt <= 0)
        {
            sb.Append("0.").Append('0', -decpt).Append(digits);
        }
        else if (decpt >= digits.Length)
        {
            sb.Append(digits).Append('0', decpt - digits.Length).Append(".0");
        }
        else
        {
            sb.Append(digits, 0, decpt).Append('.').Append(digits, decpt, digits.Length - decpt);
        }
        return sb.ToString();
    }

    public static string StringRepr(string s)
    {
        char quote = s.Contains('\'') && !s.Contains('"') ? '"' : '\'';
        var sb = new StringBuilder(s.Length + 2).Append(quote);
        for (int i = 0; i < s.Length; i++)
        {
            char c = s[i];
            if (c == quote || c == '\\') sb.Append('\\').Append(c);
            else if (c == '\n') sb.Append("\\n");
            else if (c == '\r') sb.Append("\\r");
            else if (c == '\t') sb.Append("\\t");
            else if (c < 0x20 || c == 0x7f) sb.Append("\\x").Append(((int)c).ToString("x2", CultureInfo.InvariantCulture));
            else if (c < 0x7f) sb.Append(c);
            else
            {
                int cp;
                int width = 1;
                if (char.IsHighSurrogate(c) && i + 1 < s.Length && char.IsLowSurrogate(s[i + 1]))
                {
                    cp = char.ConvertToUtf32(c, s[i + 1]);
                    width = 2;
                }
                else cp = c;
                if (IsPrintable(cp)) sb.Append(s, i, width);
                else if (cp <= 0xff) sb.Append("\\x").Append(cp.ToString("x2", CultureInfo.InvariantCulture));
                else if (cp <= 0xffff) sb.Append("\\u").Append(cp.ToString("x4", CultureInfo.InvariantCulture));
                else sb.Append("\\U").Append(cp.ToString("x8", CultureInfo.InvariantCulture));
                i += width - 1;
            }
        }
        return sb.Append(quote).ToString();
    }

    private static bool IsPrintable(int cp)
    {
        if (cp >= 0xD800 && cp <= 0xDFFF) return false;
        var cat = CharUnicodeInfo.GetUnicodeCategory(cp);
        return cat switch
        {
            UnicodeCategory.Control or UnicodeCategory.Format or UnicodeCategory.Surrogate or UnicodeCategory.PrivateUse
                or UnicodeCategory.OtherNotAssigned or UnicodeCategory.LineSeparator or UnicodeCategory.ParagraphSeparator => false,
            UnicodeCategory.SpaceSeparator => cp == ' ',
            _ => true,
        };
    }

    /// <summary>Python's <c>str.isspace</c> for one character.</summary>
    public static bool IsSpace(char c) => char.IsWhiteSpace(c) || (c >= '\x1c' && c <= '\x1f');

    public static string Strip(string s, string? chars, bool left, bool right)
    {
        int start = 0, end = s.Length;
        Func<char, bool> strip = chars == null ? IsSpace : chars.Contains;
        if (left) while (start < end && strip(s[start])) start++;
        if (right) while (end > start && strip(s[end - 1])) end--;
        return s[start..end];
    }

    // ---------------------------------------------------------------- arithmetic

    public static object? Add(object? a, object? b)
    {
        ThrowIfUndefined(a, b);
        if (IsNumber(a) && IsNumber(b))
        {
            if (a is double || b is double) return ToDouble(a) + ToDouble(b);
            return Checked(() => checked(ToLong(a!) + ToLong(b!)));
        }
        if (a is string sa && b is string sb) return CheckLength((long)sa.Length + sb.Length, () => sa + sb);
        if (a is PyList la && b is PyList lb && (a is PyTuple) == (b is PyTuple))
        {
            var items = la.Concat(lb);
            return a is PyTuple ? new PyTuple(items) : new PyList(items);
        }
        throw Unsupported("+", a, b);
    }

    public static object? Subtract(object? a, object? b)
    {
        ThrowIfUndefined(a, b);
        if (IsNumber(a) && IsNumber(b))
        {
            if (a is double || b is double) return ToDouble(a) - ToDouble(b);
            return Checked(() => checked(ToLong(a!) - ToLong(b!)));
        }
        throw Unsupported("-", a, b);
    }

    public static object? Multiply(object? a, object? b)
    {
        ThrowIfUndefined(a, b);
        if (IsNumber(a) && IsNumber(b))
        {
            if (a is double || b is double) return ToDouble(a) * ToDouble(b);
            return Checked(() => checked(ToLong(a!) * ToLong(b!)));
        }
        if (a is string s && b is long or bool) return Repeat(s, ToLong(b!));
        if (b is string s2 && a is long or bool) return Repeat(s2, ToLong(a!));
        if (a is PyList l && b is long or bool) return RepeatList(l, ToLong(b!));
        if (b is PyList l2 && a is long or bool) return RepeatList(l2, ToLong(a!));
        throw Unsupported("*", a, b);
    }

    private static string Repeat(string s, long n)
    {
        if (n <= 0 || s.Length == 0) return "";
        return CheckLength(s.Length * n, () => new StringBuilder(s.Length * (int)n).Insert(0, s, (int)n).ToString());
    }

    private static PyList RepeatList(PyList l, long n)
    {
        var result = l is PyTuple ? new PyTuple([]) : new PyList();
        if (n <= 0) return result;
        if (l.Count * n > MaxStringLength) throw new TemplateRuntimeError("list repetition result is too large");
        RenderBudget.Characters(l.Count * n);   // one reference per element: counted as a character each
        for (long i = 0; i < n; i++) result.AddRange(l);
        return result;
    }

    public static object? TrueDivide(object? a, object? b)
    {
        ThrowIfUndefined(a, b);
        if (!IsNumber(a) || !IsNumber(b)) throw Unsupported("/", a, b);
        double y = ToDouble(b);
        if (y == 0) throw new TemplateRuntimeError("division by zero");
        return ToDouble(a) / y;
    }

    public static object? FloorDivide(object? a, object? b)
    {
        ThrowIfUndefined(a, b);
        if (!IsNumber(a) || !IsNumber(b)) throw Unsupported("//", a, b);
        if (a is double || b is double)
        {
            double y = ToDouble(b);
            if (y == 0) throw new TemplateRuntimeError("float floor division by zero");
            return Math.Floor(ToDouble(a) / y);
        }
        long x = ToLong(a!), z = ToLong(b!);
        if (z == 0) throw new TemplateRuntimeError("integer division or modulo by zero");
        if (x == long.MinValue && z == -1) throw new TemplateRuntimeError("integer overflow");
        long q = x / z;
        if ((x % z != 0) && ((x < 0) != (z < 0))) q--;
        return q;
    }

    public static object? Modulo(object? a, object? b)
    {
        ThrowIfUndefined(a, b);
        if (!IsNumber(a) || !IsNumber(b)) throw Unsupported("%", a, b);
        if (a is double || b is double)
        {
            double x = ToDouble(a), y = ToDouble(b);
            if (y == 0) throw new TemplateRuntimeError("float modulo");
            double m = x % y;
            if (m != 0 && (m < 0) != (y < 0)) m += y;
            return m;
        }
        long lx = ToLong(a!), ly = ToLong(b!);
        if (ly == 0) throw new TemplateRuntimeError("integer division or modulo by zero");
        if (ly == -1) return 0L;
        long r = lx % ly;
        if (r != 0 && (r < 0) != (ly < 0)) r += ly;
        return r;
    }

    public static object? Power(object? a, object? b)
    {
        ThrowIfUndefined(a, b);
        if (!IsNumber(a) || !IsNumber(b)) throw Unsupported("**", a, b);
        if (a is double || b is double || ToLong(b!) < 0) return Math.Pow(ToDouble(a), ToDouble(b));
        long bas = ToLong(a!), ex = ToLong(b!), result = 1;
        return Checked(() =>
        {
            for (long i = 0; i < ex; i++)
            {
                result = checked(result * bas);
                if (result == 0 || (result == 1 && bas == 1)) break;
            }
            return result;
        });
    }

    public static object? Negate(object? a)
    {
        ThrowIfUndefined(a);
        return a switch
        {
            long l => Checked(() => checked(-l)),
            bool b => b ? -1L : 0L,
            double d => -d,
            _ => throw new TemplateRuntimeError($"bad operand type for unary -: '{TypeName(a)}'"),
        };
    }

    private static object Checked(Func<long> f)
    {
        try { return f(); }
        catch (OverflowException) { throw new TemplateRuntimeError("integer overflow (beyond 64 bits)"); }
    }

    private static string CheckLength(long length, Func<string> make)
    {
        WillMake(length);
        return make();
    }

    /// <summary>Before a string of <paramref name="length"/> characters is made: within <see cref="MaxStringLength"/>, and counted against the render's budget.</summary>
    public static void WillMake(long length)
    {
        if (length > MaxStringLength) throw new TemplateRuntimeError($"string result longer than {MaxStringLength} characters");
        RenderBudget.Characters(length);
    }

    public static void ThrowIfUndefined(params object?[] values)
    {
        foreach (object? v in values)
            if (v is Undefined u) throw new TemplateRuntimeError(u.Hint);
    }

    private static TemplateRuntimeError Unsupported(string op, object? a, object? b) =>
        new($"unsupported operand type(s) for {op}: '{TypeName(a)}' and '{TypeName(b)}'");

    // ---------------------------------------------------------------- containers

    /// <summary>Iterates a value as a for loop does (dicts give their keys, strings their characters).</summary>
    public static List<object?> Iterate(object? v) => v switch
    {
        Undefined => [],
        PyList l => [.. l],
        PyDict d => d.Keys.Select(PyDict.Unwrap).ToList(),
        string s => Characters(s),
        _ => throw new TemplateRuntimeError($"'{TypeName(v)}' object is not iterable"),
    };

    public static List<object?> Characters(string s)
    {
        var result = new List<object?>(s.Length);
        for (int i = 0; i < s.Length; i++)
        {
            int width = char.IsHighSurrogate(s[i]) && i + 1 < s.Length && char.IsLowSurrogate(s[i + 1]) ? 2 : 1;
            result.Add(s.Substring(i, width));
            i += width - 1;
        }
        return result;
    }

    public static long Length(object? v) => v switch
    {
        Undefined => 0,
        string s => CodePointCount(s),
        PyList l => l.Count,
        PyDict d => d.Count,
        _ => throw new TemplateRuntimeError($"object of type '{TypeName(v)}' has no len()"),
    };

    public static int CodePointCount(string s)
    {
        int n = 0;
        for (int i = 0; i < s.Length; i++)
        {
            if (char.IsHighSurrogate(s[i]) && i + 1 < s.Length && char.IsLowSurrogate(s[i + 1])) i++;
            n++;
        }
        return n;
    }

    public static bool Contains(object? container, object? item) => container switch
    {
        string s => item is string sub ? s.Contains(sub, StringComparison.Ordinal)
            : throw new TemplateRuntimeError($"'in <string>' requires string as left operand, not {TypeName(item)}"),
        PyList l => l.Any(x => PyEquals(x, item)),
        PyDict d => d.ContainsKey(item),
        Undefined => false,
        _ => throw new TemplateRuntimeError($"argument of type '{TypeName(container)}' is not iterable"),
    };
}
