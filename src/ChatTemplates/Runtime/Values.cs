using System.Collections;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace MlPipelines.ChatTemplates.Runtime;

// The template's values are Python's, held as: null (None), Undefined, bool, long (int), double (float), string,
// PyList (list), PyTuple (tuple), PyDict (dict, insertion ordered), Namespace, LoopInfo and Callable.

/// <summary>Jinja's default Undefined: renders empty, is falsy, iterates empty; most other uses raise.</summary>
internal sealed class Undefined
{
    public static readonly Undefined Plain = new("value is undefined");

    public Undefined(string hint) => Hint = hint;

    /// <summary>What Jinja says when the value is used where it raises, e.g. "'foo' is undefined".</summary>
    public string Hint { get; }

    public static Undefined Named(string name) => new($"'{name}' is undefined");

    public static Undefined NoAttribute(object? owner, string attribute) =>
        new($"'{PyOps.TypeDescription(owner)}' has no attribute '{attribute}'");

    public static Undefined NoItem(object? owner, object? key) =>
        new($"'{PyOps.TypeDescription(owner)}' has no attribute {PyOps.Repr(key)}");
}

/// <summary>A Python list.</summary>
internal class PyList : List<object?>
{
    public PyList() { }
    public PyList(IEnumerable<object?> items) : base(items) { }
}

/// <summary>A Python tuple (what <c>dict.items()</c> yields and <c>(a, b)</c> builds).</summary>
internal sealed class PyTuple : PyList
{
    public PyTuple(IEnumerable<object?> items) : base(items) { }
}

/// <summary>A Python dict: insertion ordered, keys compared as Python compares them (1 == 1.0 == True).</summary>
internal sealed class PyDict : IEnumerable<KeyValuePair<object, object?>>
{
    private readonly OrderedDictionary<object, object?> items = new(PyKeyComparer.Instance);

    public int Count => items.Count;
    public IEnumerable<object> Keys => items.Keys;
    public IEnumerable<object?> Values => items.Values;

    public object? this[object key]
    {
        set => items[key] = value;
    }

    public bool TryGet(object? key, out object? value)
    {
        value = null;
        object k = key ?? NoneKey.Instance;
        return PyKeyComparer.IsHashable(k) && items.TryGetValue(k, out value);
    }

    public void Set(object? key, object? value) => items[key ?? NoneKey.Instance] = value;

    public bool ContainsKey(object? key) => TryGet(key, out _);

    public IEnumerator<KeyValuePair<object, object?>> GetEnumerator() => items.GetEnumerator();
    IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();

    /// <summary>A stand-in for a <c>None</c> key (dictionaries cannot hold null keys).</summary>
    internal sealed class NoneKey
    {
        public static readonly NoneKey Instance = new();
    }

    /// <summary>The key as the template sees it (null for the None key).</summary>
    public static object? Unwrap(object key) => key is NoneKey ? null : key;
}

/// <summary>Python's key equality: numbers by value (True == 1 == 1.0), strings ordinally.</summary>
internal sealed class PyKeyComparer : IEqualityComparer<object>
{
    public static readonly PyKeyComparer Instance = new();

    public static bool IsHashable(object key) => key is string or long or double or bool or PyTuple or PyDict.NoneKey;

    private static object Normalize(object o) => o switch
    {
        bool b => b ? 1L : 0L,
        double d when d == Math.Floor(d) && Math.Abs(d) < 9.2e18 => (long)d,
        _ => o,
    };

    public new bool Equals(object? x, object? y) =>
        x is PyDict.NoneKey || y is PyDict.NoneKey ? ReferenceEquals(x, y) : PyOps.PyEquals(x, y);

    public int GetHashCode(object obj)
    {
        object n = Normalize(obj);
        if (n is PyTuple t)
        {
            var h = new HashCode();
            foreach (object? item in t) h.Add(item == null ? 0 : GetHashCode(item));
            return h.ToHashCode();
        }
        return n.GetHashCode();
    }
}

/// <summary>What <c>namespace(...)</c> returns: an object whose attributes <c>set ns.attr = ...</c> can change.</summary>
internal sealed class Namespace
{
    public PyDict Attributes { get; } = new();
}

/// <summary>A callable value: a global function, a filter-like method bound to its object, or a macro.</summary>
internal sealed class Callable
{
    public Callable(string name, Func<IReadOnlyList<object?>, IReadOnlyDictionary<string, object?>, object?> invoke)
    {
        Name = name;
        Invoke = invoke;
    }

    public string Name { get; }
    public Func<IReadOnlyList<object?>, IReadOnlyDictionary<string, object?>, object?> Invoke { get; }
}

/// <summary>The <c>loop</c> variable of a for loop.</summary>
internal sealed class LoopInfo
{
    public LoopInfo(IReadOnlyList<object?> items, int depth0)
    {
        Items = items;
        Depth0 = depth0;
    }

    public IReadOnlyList<object?> Items { get; }
    public int Index0 { get; set; }
    public int Depth0 { get; }

    public object? GetAttribute(string name) => name switch
    {
        "index" => (long)(Index0 + 1),
        "index0" => (long)Index0,
        "revindex" => (long)(Items.Count - Index0),
        "revindex0" => (long)(Items.Count - Index0 - 1),
        "first" => Index0 == 0,
        "last" => Index0 == Items.Count - 1,
        "length" => (long)Items.Count,
        "depth" => (long)(Depth0 + 1),
        "depth0" => (long)Depth0,
        "previtem" => Index0 > 0 ? Items[Index0 - 1] : Undefined.Named("previtem") ,
        "nextitem" => Index0 < Items.Count - 1 ? Items[Index0 + 1] : Undefined.Named("nextitem"),
        "cycle" => new Callable("loop.cycle", (args, _) =>
            args.Count == 0 ? throw new TemplateRuntimeError("no items for cycling given") : args[Index0 % args.Count]),
        _ => Undefined.NoAttribute(this, name),
    };
}

/// <summary>An error while rendering; the evaluator adds the location and turns it into a ChatTemplateException.</summary>
internal sealed class TemplateRuntimeError : Exception
{
    public TemplateRuntimeError(string message, bool raisedByTemplate = false) : base(message) => RaisedByTemplate = raisedByTemplate;

    public bool RaisedByTemplate { get; }
}

/// <summary>Turns .NET values handed to a render (strings, numbers, dictionaries, lists, JSON) into template values.</summary>
internal static class ValueConverter
{
    private const int MaxDepth = 256;

    public static object? FromDotNet(object? value, int depth = 0)
    {
        if (depth > MaxDepth)
            throw new ArgumentException($"A variable nests deeper than {MaxDepth} levels.");
        switch (value)
        {
            case null: return null;
            case string or bool or long or double or Undefined or Namespace or Callable or PyList or PyDict: return value;
            case int i: return (long)i;
            case short s: return (long)s;
            case byte b: return (long)b;
            case sbyte sb: return (long)sb;
            case ushort us: return (long)us;
            case uint ui: return (long)ui;
            case ulong ul: return ul <= long.MaxValue ? (long)ul : (double)ul;
            case float f: return (double)f;
            case decimal m: return (double)m;
            case char c: return c.ToString();
            case ChatMessage message: return message.ToDictionary(depth);
            case JsonElement element: return FromJson(element, depth);
            case JsonNode node: return FromJson(JsonSerializer.SerializeToElement(node), depth);
            case IDictionary<string, object?> dict:
            {
                var result = new PyDict();
                foreach (var (k, v) in dict) result.Set(k, FromDotNet(v, depth + 1));
                return result;
            }
            case IReadOnlyDictionary<string, object?> rdict:
            {
                var result = new PyDict();
                foreach (var (k, v) in rdict) result.Set(k, FromDotNet(v, depth + 1));
                return result;
            }
            case IDictionary ndict:
            {
                var result = new PyDict();
                foreach (DictionaryEntry e in ndict) result.Set(FromDotNet(e.Key, depth + 1), FromDotNet(e.Value, depth + 1));
                return result;
            }
            case IEnumerable enumerable:
            {
                var list = new PyList();
                foreach (object? item in enumerable) list.Add(FromDotNet(item, depth + 1));
                return list;
            }
            default:
                throw new ArgumentException(
                    $"A template variable of type {value.GetType().FullName} is not supported: pass strings, numbers, booleans, " +
                    "dictionaries, lists, ChatMessage or JSON (JsonElement/JsonNode).");
        }
    }

    public static object? FromJson(JsonElement element, int depth = 0)
    {
        if (depth > MaxDepth)
            throw new ArgumentException($"A JSON variable nests deeper than {MaxDepth} levels.");
        switch (element.ValueKind)
        {
            case JsonValueKind.Object:
                var dict = new PyDict();
                foreach (var p in element.EnumerateObject()) dict.Set(p.Name, FromJson(p.Value, depth + 1));
                return dict;
            case JsonValueKind.Array:
                var list = new PyList();
                foreach (var item in element.EnumerateArray()) list.Add(FromJson(item, depth + 1));
                return list;
            case JsonValueKind.String: return element.GetString();
            case JsonValueKind.Number:
                string raw = element.GetRawText();
                bool integral = raw.IndexOfAny(['.', 'e', 'E']) < 0;
                if (integral && element.TryGetInt64(out long l)) return l;
                return element.GetDouble();
            case JsonValueKind.True: return true;
            case JsonValueKind.False: return false;
            default: return null;
        }
    }
}
