using System.Text;

namespace MlPipelines.ChatTemplates.Runtime;

/// <summary>
/// Attribute access (<c>a.b</c>: the object's attribute or method first, then its item), item access (<c>a[b]</c>:
/// the item first, then the attribute), slicing, and the string, dict and list methods templates call.
/// </summary>
internal static class Access
{
    private static readonly HashSet<string> DictMethods = ["items", "keys", "values", "get", "copy"];
    private static readonly HashSet<string> ListMethods = ["index", "count", "copy"];
    private static readonly HashSet<string> Mutators =
        ["append", "extend", "insert", "pop", "remove", "clear", "update", "setdefault", "popitem", "sort", "reverse", "add", "discard"];
    private static readonly HashSet<string> StringMethods =
    [
        "strip", "lstrip", "rstrip", "startswith", "endswith", "split", "rsplit", "splitlines", "upper", "lower", "replace",
        "title", "capitalize", "find", "rfind", "count", "join", "isdigit", "isalpha", "isalnum", "isspace", "isupper",
        "islower", "index", "removeprefix", "removesuffix", "swapcase", "casefold", "zfill", "center", "ljust", "rjust",
    ];

    public static object? GetAttribute(object? obj, string name)
    {
        switch (obj)
        {
            case Undefined u: throw new TemplateRuntimeError(u.Hint);
            case PyDict d:
                if (DictMethods.Contains(name) || Mutators.Contains(name)) return Method(d, name);
                return d.TryGet(name, out object? v) ? v : Undefined.NoAttribute(obj, name);
            case string s:
                return StringMethods.Contains(name) ? Method(s, name) : Undefined.NoAttribute(obj, name);
            case PyList l:
                return ListMethods.Contains(name) || Mutators.Contains(name) ? Method(l, name) : Undefined.NoAttribute(obj, name);
            case Namespace n:
                return n.Attributes.TryGet(name, out object? a) ? a : Undefined.NoAttribute(obj, name);
            case LoopInfo loop:
                return loop.GetAttribute(name);
            default:
                return Undefined.NoAttribute(obj, name);
        }
    }

    public static object? GetItem(object? obj, object? key)
    {
        switch (obj)
        {
            case Undefined u: throw new TemplateRuntimeError(u.Hint);
            case PyDict d:
                if (d.TryGet(key, out object? v)) return v;
                return key is string ks && (DictMethods.Contains(ks) || Mutators.Contains(ks)) ? GetAttribute(obj, ks) : Undefined.NoItem(obj, key);
            case PyList l:
                if (key is long or bool)
                {
                    long i = key is bool b ? (b ? 1 : 0) : (long)key;
                    if (i < 0) i += l.Count;
                    return i >= 0 && i < l.Count ? l[(int)i] : Undefined.NoItem(obj, key);
                }
                return key is string s ? GetAttribute(obj, s) : Undefined.NoItem(obj, key);
            case string str:
                if (key is long or bool)
                {
                    var chars = PyOps.Characters(str);
                    long i = key is bool b ? (b ? 1 : 0) : (long)key;
                    if (i < 0) i += chars.Count;
                    return i >= 0 && i < chars.Count ? chars[(int)i] : Undefined.NoItem(obj, key);
                }
                return key is string name ? GetAttribute(obj, name) : Undefined.NoItem(obj, key);
            case Namespace or LoopInfo:
                return key is string attr ? GetAttribute(obj, attr) : Undefined.NoItem(obj, key);
            default:
                return Undefined.NoItem(obj, key);
        }
    }

    public static object? Slice(object? obj, object? start, object? stop, object? step)
    {
        switch (obj)
        {
            case Undefined u: throw new TemplateRuntimeError(u.Hint);
            case PyList l:
            {
                var picked = SliceIndices(l.Count, start, stop, step).Select(i => l[i]);
                return l is PyTuple ? new PyTuple(picked) : new PyList(picked);
            }
            case string s:
            {
                var chars = PyOps.Characters(s);
                var sb = new StringBuilder();
                foreach (int i in SliceIndices(chars.Count, start, stop, step)) sb.Append((string)chars[i]!);
                return sb.ToString();
            }
            default:
                throw new TemplateRuntimeError($"'{PyOps.TypeName(obj)}' object is not subscriptable");
        }
    }

    /// <summary>Python's slice semantics (negative indices, clamping, negative steps).</summary>
    public static IEnumerable<int> SliceIndices(int length, object? start, object? stop, object? step)
    {
        long st = step is null ? 1 : SliceInt(step);
        if (st == 0) throw new TemplateRuntimeError("slice step cannot be zero");
        long lo, hi;
        if (st > 0)
        {
            lo = start is null ? 0 : Clamp(SliceInt(start), length, 0, length);
            hi = stop is null ? length : Clamp(SliceInt(stop), length, 0, length);
            for (long i = lo; i < hi; i += st) yield return (int)i;
        }
        else
        {
            lo = start is null ? length - 1 : Clamp(SliceInt(start), length, -1, length - 1);
            hi = stop is null ? -1 : Clamp(SliceInt(stop), length, -1, length - 1);
            for (long i = lo; i > hi; i += st) yield return (int)i;
        }
    }

    private static long Clamp(long index, int length, long min, long max)
    {
        if (index < 0) index += length;
        return Math.Min(Math.Max(index, min), max);
    }

    private static long SliceInt(object v) => v switch
    {
        long l => l,
        bool b => b ? 1 : 0,
        Undefined u => throw new TemplateRuntimeError(u.Hint),
        _ => throw new TemplateRuntimeError("slice indices must be integers or None"),
    };

    // ---------------------------------------------------------------- methods

    private static Callable Method(object target, string name) => new(PyOps.TypeName(target) + "." + name, (args, kwargs) =>
    {
        if (Mutators.Contains(name))
            throw new TemplateRuntimeError($"access to attribute '{name}' of '{PyOps.TypeName(target)}' object is unsafe (the sandbox makes values immutable)");
        return target switch
        {
            string s => StringMethod(s, name, args, kwargs),
            PyDict d => DictMethod(d, name, args),
            PyList l => ListMethod(l, name, args),
            _ => throw new InvalidOperationException(),
        };
    });

    private static object? Arg(IReadOnlyList<object?> args, IReadOnlyDictionary<string, object?> kwargs, int index, string name, object? fallback = null)
    {
        if (index < args.Count) return args[index];
        return kwargs.TryGetValue(name, out object? v) ? v : fallback;
    }

    private static string? OptString(object? v, string method) => v switch
    {
        null => null,
        string s => s,
        Undefined u => throw new TemplateRuntimeError(u.Hint),
        _ => throw new TemplateRuntimeError($"{method} arg must be None or str"),
    };

    private static string NeedString(object? v, string method) => v switch
    {
        string s => s,
        Undefined u => throw new TemplateRuntimeError(u.Hint),
        _ => throw new TemplateRuntimeError($"{method}() argument must be str, not {PyOps.TypeName(v)}"),
    };

    private static long NeedInt(object? v, string method) => v switch
    {
        long l => l,
        bool b => b ? 1 : 0,
        Undefined u => throw new TemplateRuntimeError(u.Hint),
        _ => throw new TemplateRuntimeError($"{method}() argument must be int, not {PyOps.TypeName(v)}"),
    };

    private static object? StringMethod(string s, string name, IReadOnlyList<object?> args, IReadOnlyDictionary<string, object?> kwargs)
    {
        switch (name)
        {
            case "strip": return PyOps.Strip(s, OptString(Arg(args, kwargs, 0, "chars"), "strip"), true, true);
            case "lstrip": return PyOps.Strip(s, OptString(Arg(args, kwargs, 0, "chars"), "lstrip"), true, false);
            case "rstrip": return PyOps.Strip(s, OptString(Arg(args, kwargs, 0, "chars"), "rstrip"), false, true);
            case "startswith" or "endswith":
            {
                object? prefix = Arg(args, kwargs, 0, "prefix");
                var options = prefix is PyTuple t ? t.Select(x => NeedString(x, name)).ToList() : [NeedString(prefix, name)];
                return options.Any(p => name == "startswith" ? s.StartsWith(p, StringComparison.Ordinal) : s.EndsWith(p, StringComparison.Ordinal));
            }
            case "split" or "rsplit":
            {
                string? sep = OptString(Arg(args, kwargs, 0, "sep"), name);
                long max = NeedInt(Arg(args, kwargs, 1, "maxsplit", -1L), name);
                return new PyList(Builtins.Split(s, sep, max, name == "rsplit").Cast<object?>());
            }
            case "splitlines":
                return new PyList(Builtins.SplitLines(s, PyOps.IsTrue(Arg(args, kwargs, 0, "keepends", false))).Cast<object?>());
            case "upper": return s.ToUpperInvariant();
            case "lower": return s.ToLowerInvariant();
            case "casefold": return s.ToLowerInvariant();
            case "swapcase": return new string(s.Select(c => char.IsUpper(c) ? char.ToLowerInvariant(c) : char.ToUpperInvariant(c)).ToArray());
            case "title": return Builtins.PyTitle(s);
            case "capitalize": return Builtins.Capitalize(s);
            case "replace":
            {
                string old = NeedString(Arg(args, kwargs, 0, "old"), "replace"), @new = NeedString(Arg(args, kwargs, 1, "new"), "replace");
                long count = NeedInt(Arg(args, kwargs, 2, "count", -1L), "replace");
                return Builtins.Replace(s, old, @new, count);
            }
            case "find": return (long)s.IndexOf(NeedString(Arg(args, kwargs, 0, "sub"), "find"), StringComparison.Ordinal);
            case "rfind": return (long)s.LastIndexOf(NeedString(Arg(args, kwargs, 0, "sub"), "rfind"), StringComparison.Ordinal);
            case "index":
            {
                int i = s.IndexOf(NeedString(Arg(args, kwargs, 0, "sub"), "index"), StringComparison.Ordinal);
                return i >= 0 ? (long)i : throw new TemplateRuntimeError("substring not found");
            }
            case "count":
            {
                string sub = NeedString(Arg(args, kwargs, 0, "sub"), "count");
                if (sub.Length == 0) return (long)PyOps.CodePointCount(s) + 1;
                long n = 0;
                for (int i = s.IndexOf(sub, StringComparison.Ordinal); i >= 0; i = s.IndexOf(sub, i + sub.Length, StringComparison.Ordinal)) n++;
                return n;
            }
            case "join":
                return string.Join(s, PyOps.Iterate(Arg(args, kwargs, 0, "iterable")).Select(x =>
                    x as string ?? throw new TemplateRuntimeError($"sequence item: expected str instance, {PyOps.TypeName(x)} found")));
            case "isdigit": return s.Length > 0 && s.All(char.IsDigit);
            case "isalpha": return s.Length > 0 && s.All(char.IsLetter);
            case "isalnum": return s.Length > 0 && s.All(char.IsLetterOrDigit);
            case "isspace": return s.Length > 0 && s.All(PyOps.IsSpace);
            case "isupper": return s.Any(char.IsLetter) && !s.Any(char.IsLower);
            case "islower": return s.Any(char.IsLetter) && !s.Any(char.IsUpper);
            case "removeprefix":
            {
                string p = NeedString(Arg(args, kwargs, 0, "prefix"), name);
                return s.StartsWith(p, StringComparison.Ordinal) ? s[p.Length..] : s;
            }
            case "removesuffix":
            {
                string p = NeedString(Arg(args, kwargs, 0, "suffix"), name);
                return p.Length > 0 && s.EndsWith(p, StringComparison.Ordinal) ? s[..^p.Length] : s;
            }
            case "zfill":
            {
                long width = NeedInt(Arg(args, kwargs, 0, "width"), name);
                if (s.Length >= width) return s;
                int sign = s.Length > 0 && s[0] is '+' or '-' ? 1 : 0;
                return s[..sign] + new string('0', (int)width - s.Length) + s[sign..];
            }
            case "center" or "ljust" or "rjust":
            {
                long width = NeedInt(Arg(args, kwargs, 0, "width"), name);
                string fill = NeedString(Arg(args, kwargs, 1, "fillchar", " "), name);
                int len = PyOps.CodePointCount(s);
                if (width <= len) return s;
                if (width > PyOps.MaxStringLength) throw new TemplateRuntimeError("result too long");
                int pad = (int)width - len;
                int left = name == "ljust" ? 0 : name == "rjust" ? pad : pad / 2 + (pad & (int)width & 1);
                return string.Concat(Enumerable.Repeat(fill, left)) + s + string.Concat(Enumerable.Repeat(fill, pad - left));
            }
            default: throw new TemplateRuntimeError($"'str' object has no attribute '{name}'");
        }
    }

    private static object? DictMethod(PyDict d, string name, IReadOnlyList<object?> args) => name switch
    {
        "items" => new PyList(d.Select(kv => (object?)new PyTuple([PyDict.Unwrap(kv.Key), kv.Value]))),
        "keys" => new PyList(d.Keys.Select(PyDict.Unwrap)),
        "values" => new PyList(d.Values),
        "get" => args.Count == 0 ? throw new TemplateRuntimeError("get expected at least 1 argument, got 0")
            : d.TryGet(args[0], out object? v) ? v : args.Count > 1 ? args[1] : null,
        "copy" => Copy(d),
        _ => throw new TemplateRuntimeError($"'dict' object has no attribute '{name}'"),
    };

    private static PyDict Copy(PyDict d)
    {
        var copy = new PyDict();
        foreach (var (k, v) in d) copy.Set(PyDict.Unwrap(k), v);
        return copy;
    }

    private static object? ListMethod(PyList l, string name, IReadOnlyList<object?> args) => name switch
    {
        "index" => args.Count == 0 ? throw new TemplateRuntimeError("index expected 1 argument")
            : l.FindIndex(x => PyOps.PyEquals(x, args[0])) is var i and >= 0 ? (long)i : throw new TemplateRuntimeError("value is not in list"),
        "count" => args.Count == 0 ? throw new TemplateRuntimeError("count expected 1 argument") : (long)l.Count(x => PyOps.PyEquals(x, args[0])),
        "copy" => l is PyTuple ? new PyTuple(l) : new PyList(l),
        _ => throw new TemplateRuntimeError($"'list' object has no attribute '{name}'"),
    };
}
