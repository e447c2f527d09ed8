using System.Globalization;
using System.Text;

namespace MlPipelines.ChatTemplates.Runtime;

/// <summary>Jinja's filters that chat templates use, with Hugging Face's <c>tojson</c>.</summary>
internal static class Filters
{
    private delegate object? Filter(object? value, IReadOnlyList<object?> args, IReadOnlyDictionary<string, object?> kwargs);

    private static readonly Dictionary<string, Filter> All = new(StringComparer.Ordinal)
    {
        ["trim"] = (v, a, k) => PyOps.Strip(PyOps.Str(v), OptString(Arg(a, k, 0, "chars")), true, true),
        ["length"] = (v, a, k) => PyOps.Length(v),
        ["count"] = (v, a, k) => PyOps.Length(v),
        ["upper"] = (v, a, k) => PyOps.Str(v).ToUpperInvariant(),
        ["lower"] = (v, a, k) => PyOps.Str(v).ToLowerInvariant(),
        ["capitalize"] = (v, a, k) => Builtins.Capitalize(PyOps.Str(v)),
        ["title"] = (v, a, k) => JinjaTitle(PyOps.Str(v)),
        ["string"] = (v, a, k) => PyOps.Str(v),
        ["safe"] = (v, a, k) => v,
        ["escape"] = (v, a, k) => Escape(v),
        ["e"] = (v, a, k) => Escape(v),
        ["default"] = Default,
        ["d"] = Default,
        ["join"] = Join,
        ["replace"] = (v, a, k) => Builtins.Replace(PyOps.Str(v), PyOps.Str(Arg(a, k, 0, "old")), PyOps.Str(Arg(a, k, 1, "new")),
            Arg(a, k, 2, "count") is long c ? c : -1),
        ["first"] = (v, a, k) => PyOps.Iterate(NotUndefined(v)) is { Count: > 0 } items ? items[0] : new Undefined("No first item, sequence was empty."),
        ["last"] = (v, a, k) => PyOps.Iterate(NotUndefined(v)) is { Count: > 0 } items ? items[^1] : new Undefined("No last item, sequence was empty."),
        ["list"] = (v, a, k) => new PyList(PyOps.Iterate(NotUndefined(v))),
        ["int"] = ToInt,
        ["float"] = ToFloat,
        ["abs"] = (v, a, k) => NotUndefined(v) switch
        {
            long l => l == long.MinValue ? throw new TemplateRuntimeError("integer overflow") : (object)Math.Abs(l),
            double d => (object)Math.Abs(d),
            bool b => (object)(b ? 1L : 0L),
            _ => throw new TemplateRuntimeError($"bad operand type for abs(): '{PyOps.TypeName(v)}'"),
        },
        ["round"] = Round,
        ["items"] = (v, a, k) => v switch
        {
            Undefined => new PyList(),
            PyDict d => new PyList(d.Select(kv => (object?)new PyTuple([PyDict.Unwrap(kv.Key), kv.Value]))),
            _ => throw new TemplateRuntimeError("Can only get item pairs from a mapping."),
        },
        ["dictsort"] = DictSort,
        ["tojson"] = (v, a, k) => PyJson.Dumps(v,
            ensureAscii: PyOps.IsTrue(Arg(a, k, 0, "ensure_ascii", false)),
            indent: Arg(a, k, 1, "indent"),
            itemSeparator: Separators(Arg(a, k, 2, "separators"), 0),
            keySeparator: Separators(Arg(a, k, 2, "separators"), 1),
            sortKeys: PyOps.IsTrue(Arg(a, k, 3, "sort_keys", false))),
        ["reverse"] = (v, a, k) => NotUndefined(v) is string s
            ? string.Concat(PyOps.Characters(s).AsEnumerable().Reverse().Cast<string>())
            : new PyList(PyOps.Iterate(v).AsEnumerable().Reverse()),
        ["sort"] = Sort,
        ["unique"] = (v, a, k) =>
        {
            var seen = new PyList();
            foreach (object? item in PyOps.Iterate(v))
                if (!seen.Any(s => PyOps.PyEquals(Fold(s), Fold(item)))) seen.Add(item);
            return seen;
        },
        ["min"] = (v, a, k) => MinMax(v, -1),
        ["max"] = (v, a, k) => MinMax(v, 1),
        ["sum"] = (v, a, k) =>
        {
            object? total = Arg(a, k, 1, "start", 0L);
            string? attribute = Arg(a, k, 0, "attribute") as string;
            foreach (object? item in PyOps.Iterate(v)) total = PyOps.Add(total, attribute != null ? Access.GetItem(item, attribute) : item);
            return total;
        },
        ["map"] = Map,
        ["select"] = (v, a, k) => SelectOrReject(v, a, false, false),
        ["reject"] = (v, a, k) => SelectOrReject(v, a, true, false),
        ["selectattr"] = (v, a, k) => SelectOrReject(v, a, false, true),
        ["rejectattr"] = (v, a, k) => SelectOrReject(v, a, true, true),
        ["attr"] = (v, a, k) => Access.GetAttribute(v, PyOps.Str(Arg(a, k, 0, "name"))),
        ["indent"] = Indent,
        ["format"] = (v, a, k) => Builtins.PercentFormat(PyOps.Str(v), a.Count == 1 ? a[0] : new PyTuple(a)),
        ["center"] = (v, a, k) =>
        {
            long width = Arg(a, k, 0, "width", 80L) is long w ? w : 80;
            string s = PyOps.Str(v);
            int len = PyOps.CodePointCount(s);
            if (width <= len) return s;
            int pad = (int)Math.Min(width, PyOps.MaxStringLength) - len;
            int left = pad / 2 + (pad & (int)width & 1);
            return new string(' ', left) + s + new string(' ', pad - left);
        },
        ["wordcount"] = (v, a, k) => (long)Builtins.Split(PyOps.Str(v), null, -1, false).Count,
    };

    public static bool Exists(string name) => All.ContainsKey(name);

    public static object? Apply(string name, object? value, IReadOnlyList<object?> args, IReadOnlyDictionary<string, object?> kwargs)
    {
        if (!All.TryGetValue(name, out var filter)) throw new TemplateRuntimeError($"No filter named '{name}'.");
        return filter(value, args, kwargs);
    }

    private static object? Arg(IReadOnlyList<object?> args, IReadOnlyDictionary<string, object?> kwargs, int index, string name, object? fallback = null)
    {
        if (index < args.Count) return args[index];
        return kwargs.TryGetValue(name, out object? v) ? v : fallback;
    }

    private static string? OptString(object? v) => v switch
    {
        null => null,
        Undefined u => throw new TemplateRuntimeError(u.Hint),
        _ => PyOps.Str(v),
    };

    private static object? NotUndefined(object? v) => v is Undefined u ? throw new TemplateRuntimeError(u.Hint) : v;

    private static string? Separators(object? separators, int which) => separators switch
    {
        null => null,
        PyList { Count: 2 } l => l[which] as string ?? throw new TemplateRuntimeError("tojson separators must be strings"),
        _ => throw new TemplateRuntimeError("tojson separators must be a (item_separator, key_separator) pair"),
    };

    private static object? Default(object? v, IReadOnlyList<object?> a, IReadOnlyDictionary<string, object?> k)
    {
        object? fallback = Arg(a, k, 0, "default_value", "");
        bool boolean = PyOps.IsTrue(Arg(a, k, 1, "boolean", false));
        return v is Undefined || (boolean && !PyOps.IsTrue(v)) ? fallback : v;
    }

    private static object? Join(object? v, IReadOnlyList<object?> a, IReadOnlyDictionary<string, object?> k)
    {
        string sep = PyOps.Str(Arg(a, k, 0, "d", ""));
        object? attribute = Arg(a, k, 1, "attribute");
        var items = PyOps.Iterate(v).Select(x => attribute != null ? Access.GetItem(x, attribute) : x);
        var sb = new StringBuilder();
        bool first = true;
        foreach (object? item in items)
        {
            if (!first) sb.Append(sep);
            first = false;
            sb.Append(PyOps.Str(item));
            if (sb.Length > PyOps.MaxStringLength) throw new TemplateRuntimeError("join result too long");
        }
        RenderBudget.Characters(sb.Length);
        return sb.ToString();
    }

    private static object? ToInt(object? v, IReadOnlyList<object?> a, IReadOnlyDictionary<string, object?> k)
    {
        object? fallback = Arg(a, k, 0, "default", 0L);
        switch (NotUndefined(v))
        {
            case long l: return l;
            case bool b: return b ? 1L : 0L;
            case double d: return double.IsFinite(d) && Math.Abs(d) < 9.2e18 ? (long)Math.Truncate(d) : fallback;
            case string s:
                string t = s.Trim().Replace("_", "");
                if (long.TryParse(t, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out long parsed)) return parsed;
                if (double.TryParse(t, NumberStyles.Float, CultureInfo.InvariantCulture, out double f) && double.IsFinite(f) && Math.Abs(f) < 9.2e18)
                    return (long)Math.Truncate(f);
                return fallback;
            default: return fallback;
        }
    }

    private static object? ToFloat(object? v, IReadOnlyList<object?> a, IReadOnlyDictionary<string, object?> k)
    {
        object? fallback = Arg(a, k, 0, "default", 0.0);
        return NotUndefined(v) switch
        {
            long l => (double)l,
            bool b => b ? 1.0 : 0.0,
            double d => d,
            string s when double.TryParse(s.Trim(), NumberStyles.Float, CultureInfo.InvariantCulture, out double f) => f,
            _ => fallback,
        };
    }

    private static object? Round(object? v, IReadOnlyList<object?> a, IReadOnlyDictionary<string, object?> k)
    {
        long precision = Arg(a, k, 0, "precision", 0L) is long p ? p : 0;
        string method = Arg(a, k, 1, "method", "common") as string ?? "common";
        double x = PyOps.ToDouble(NotUndefined(v));
        double scale = Math.Pow(10, precision);
        double r = method switch
        {
            "common" => Math.Round(x, (int)Math.Clamp(precision, 0, 15), MidpointRounding.ToEven),
            "ceil" => Math.Ceiling(x * scale) / scale,
            "floor" => Math.Floor(x * scale) / scale,
            _ => throw new TemplateRuntimeError("method must be common, ceil or floor"),
        };
        return v is long && method == "common" ? (object)(long)r : r;
    }

    private static object? Fold(object? v) => v is string s ? s.ToLowerInvariant() : v;

    private static object? Sort(object? v, IReadOnlyList<object?> a, IReadOnlyDictionary<string, object?> k)
    {
        bool reverse = PyOps.IsTrue(Arg(a, k, 0, "reverse", false));
        bool caseSensitive = PyOps.IsTrue(Arg(a, k, 1, "case_sensitive", false));
        object? attribute = Arg(a, k, 2, "attribute");
        var items = PyOps.Iterate(v);
        object? Key(object? x)
        {
            object? key = attribute != null ? Access.GetItem(x, attribute) : x;
            return caseSensitive ? key : Fold(key);
        }
        var sorted = items.Select((x, i) => (x, i)).ToList();
        sorted.Sort((p, q) =>
        {
            int c = PyOps.Compare(Key(p.x), Key(q.x), "<");
            if (reverse) c = -c;
            return c != 0 ? c : p.i.CompareTo(q.i);
        });
        return new PyList(sorted.Select(p => p.x));
    }

    private static object? DictSort(object? v, IReadOnlyList<object?> a, IReadOnlyDictionary<string, object?> k)
    {
        if (v is not PyDict d) throw new TemplateRuntimeError("dictsort takes a mapping");
        bool caseSensitive = PyOps.IsTrue(Arg(a, k, 0, "case_sensitive", false));
        string by = Arg(a, k, 1, "by", "key") as string ?? "key";
        bool reverse = PyOps.IsTrue(Arg(a, k, 2, "reverse", false));
        var pairs = d.Select(kv => new PyTuple([PyDict.Unwrap(kv.Key), kv.Value])).ToList();
        int pos = by == "value" ? 1 : 0;
        pairs.Sort((p, q) =>
        {
            object? x = caseSensitive ? p[pos] : Fold(p[pos]), y = caseSensitive ? q[pos] : Fold(q[pos]);
            int c = PyOps.Compare(x, y, "<");
            return reverse ? -c : c;
        });
        return new PyList(pairs);
    }

    private static object? MinMax(object? v, int sign)
    {
        var items = PyOps.Iterate(v);
        if (items.Count == 0) return new Undefined("No aggregated item, sequence was empty.");
        object? best = items[0];
        foreach (object? item in items.Skip(1))
            if (PyOps.Compare(Fold(item), Fold(best), "<") * sign > 0) best = item;
        return best;
    }

    private static object? Map(object? v, IReadOnlyList<object?> a, IReadOnlyDictionary<string, object?> k)
    {
        var items = PyOps.Iterate(v);
        if (k.TryGetValue("attribute", out object? attribute))
        {
            k.TryGetValue("default", out object? fallback);
            return new PyList(items.Select(x =>
            {
                object? r = Access.GetItem(x, attribute);
                return r is Undefined && k.ContainsKey("default") ? fallback : r;
            }));
        }
        if (a.Count == 0 || a[0] is not string filter) throw new TemplateRuntimeError("map requires a filter name or attribute=");
        var rest = a.Skip(1).ToList();
        return new PyList(items.Select(x => Apply(filter, x, rest, k)));
    }

    private static object? SelectOrReject(object? v, IReadOnlyList<object?> a, bool reject, bool byAttribute)
    {
        var items = PyOps.Iterate(v);
        int offset = 0;
        object? attribute = null;
        if (byAttribute)
        {
            if (a.Count == 0) throw new TemplateRuntimeError("selectattr/rejectattr need an attribute name");
            attribute = a[0];
            offset = 1;
        }
        string? test = a.Count > offset ? a[offset] as string ?? throw new TemplateRuntimeError("the test name must be a string") : null;
        var testArgs = a.Skip(offset + 1).ToList();
        var empty = new Dictionary<string, object?>();
        var result = new PyList();
        foreach (object? item in items)
        {
            object? subject = byAttribute ? Access.GetItem(item, attribute) : item;
            bool ok = test == null ? PyOps.IsTrue(subject) : Tests.Apply(test, subject, testArgs, empty);
            if (ok != reject) result.Add(item);
        }
        return result;
    }

    private static object? Indent(object? v, IReadOnlyList<object?> a, IReadOnlyDictionary<string, object?> k)
    {
        object? width = Arg(a, k, 0, "width", 4L);
        string indention = width is string ws ? ws : new string(' ', (int)Math.Clamp(width is long w ? w : 4, 0, 1024));
        bool first = PyOps.IsTrue(Arg(a, k, 1, "first", false));
        bool blank = PyOps.IsTrue(Arg(a, k, 2, "blank", false));
        string s = PyOps.Str(v) + "\n";
        var lines = Builtins.SplitLines(s, false);
        string rv;
        if (blank) rv = string.Join("\n" + indention, lines);
        else
        {
            rv = lines[0];
            if (lines.Count > 1) rv += "\n" + string.Join("\n", lines.Skip(1).Select(l => l.Length > 0 ? indention + l : l));
        }
        return first ? indention + rv : rv;
    }

    /// <summary>Jinja's <c>title</c> filter: words start after whitespace, '-', '(', '{', '[' or '&lt;'.</summary>
    private static string JinjaTitle(string s)
    {
        var sb = new StringBuilder(s.Length);
        bool start = true;
        foreach (char c in s)
        {
            bool separator = PyOps.IsSpace(c) || c is '-' or '(' or '{' or '[' or '<';
            if (separator) sb.Append(c);
            else sb.Append(start ? char.ToUpperInvariant(c) : char.ToLowerInvariant(c));
            start = separator;
        }
        return sb.ToString();
    }

    private static string Escape(object? v) => PyOps.Str(v)
        .Replace("&", "&amp;").Replace("<", "&lt;").Replace(">", "&gt;").Replace("\"", "&#34;").Replace("'", "&#39;");
}

/// <summary>Jinja's tests (<c>x is defined</c>, <c>x is string</c>, ...).</summary>
internal static class Tests
{
    public static bool Apply(string name, object? v, IReadOnlyList<object?> args, IReadOnlyDictionary<string, object?> kwargs)
    {
        object? Arg0() => args.Count > 0 ? args[0] : kwargs.Values.FirstOrDefault() is var x && kwargs.Count > 0 ? x
            : throw new TemplateRuntimeError($"test '{name}' needs an argument");
        switch (name)
        {
            case "defined": return v is not Undefined;
            case "undefined": return v is Undefined;
            case "none": return v is null;
            case "true": return v is true;
            case "false": return v is false;
            case "boolean": return v is bool;
            case "integer": return v is long;
            case "float": return v is double;
            case "number": return v is long or double or bool;
            case "string": return v is string;
            case "mapping": return v is PyDict;
            case "iterable": return v is string or PyList or PyDict or Undefined;
            case "sequence": return v is string or PyList or PyDict;
            case "callable": return v is Callable;
            case "odd": return Int(v) % 2 != 0;
            case "even": return Int(v) % 2 == 0;
            case "divisibleby":
            {
                long d = Int(Arg0());
                return d == 0 ? throw new TemplateRuntimeError("integer division or modulo by zero") : Int(v) % d == 0;
            }
            case "lower": return v is string ls && ls == ls.ToLowerInvariant() && ls.Any(char.IsLetter);
            case "upper": return v is string us && us == us.ToUpperInvariant() && us.Any(char.IsLetter);
            case "equalto" or "eq" or "==": return PyOps.PyEquals(v, Arg0());
            case "ne" or "!=": return !PyOps.PyEquals(v, Arg0());
            case "lt" or "lessthan" or "<": return PyOps.Compare(v, Arg0(), "<") < 0;
            case "le" or "<=": return PyOps.Compare(v, Arg0(), "<=") <= 0;
            case "gt" or "greaterthan" or ">": return PyOps.Compare(v, Arg0(), ">") > 0;
            case "ge" or ">=": return PyOps.Compare(v, Arg0(), ">=") >= 0;
            case "in": return PyOps.Contains(Arg0(), v);
            case "sameas":
            {
                // Python's 'is': identity; for small values (None, booleans, small ints, strings) value identity.
                object? other = Arg0();
                return ReferenceEquals(v, other) || (v is null && other is null) || (v is bool b && other is bool c && b == c)
                    || (v is long x && other is long y && x == y && x is >= -5 and <= 256) || (v is string s && other is string str && s == str);
            }
            case "escaped": return false;
            case "filter": return v is string f && Filters.Exists(f);
            case "test": return v is string t && Exists(t);
            default: throw new TemplateRuntimeError($"No test named '{name}'.");
        }
    }

    private static readonly HashSet<string> Names =
    [
        "defined", "undefined", "none", "true", "false", "boolean", "integer", "float", "number", "string", "mapping", "iterable",
        "sequence", "callable", "odd", "even", "divisibleby", "lower", "upper", "equalto", "eq", "==", "ne", "!=", "lt", "lessthan",
        "<", "le", "<=", "gt", "greaterthan", ">", "ge", ">=", "in", "sameas", "escaped", "filter", "test",
    ];

    private static bool Exists(string name) => Names.Contains(name);

    private static long Int(object? v) => v switch
    {
        long l => l,
        bool b => b ? 1 : 0,
        double d => (long)d,
        Undefined u => throw new TemplateRuntimeError(u.Hint),
        _ => throw new TemplateRuntimeError($"expected a number, got {PyOps.TypeName(v)}"),
    };
}
