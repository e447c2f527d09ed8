using System.Globalization;
using System.Text;

namespace MlPipelines.ChatTemplates.Runtime;

/// <summary>
/// Python's <c>json.dumps</c>, which Hugging Face's <c>tojson</c> filter calls with <c>ensure_ascii=False</c>:
/// separators <c>", "</c>/<c>": "</c> (<c>","</c> between items when indenting), floats as Python's repr,
/// <c>NaN</c>/<c>Infinity</c>, non-ASCII text kept, control characters escaped.
/// </summary>
internal static class PyJson
{
    private const int MaxDepth = 256;

    public static string Dumps(object? value, bool ensureAscii, object? indent, string? itemSeparator, string? keySeparator, bool sortKeys)
    {
        string? indentUnit = indent switch
        {
            null => null,
            long n => new string(' ', (int)Math.Clamp(n, 0, 1024)),
            bool b => new string(' ', b ? 1 : 0),
            string s => s,
            _ => throw new TemplateRuntimeError("tojson indent must be an integer or a string"),
        };
        itemSeparator ??= indentUnit != null ? "," : ", ";
        keySeparator ??= ": ";
        var sb = new StringBuilder();
        Write(sb, value, ensureAscii, indentUnit, itemSeparator, keySeparator, sortKeys, 0);
        RenderBudget.Characters(sb.Length);
        return sb.ToString();
    }

    private static void Write(StringBuilder sb, object? v, bool ascii, string? indent, string itemSep, string keySep, bool sort, int level)
    {
        if (level > MaxDepth) throw new TemplateRuntimeError("value nests too deeply for tojson");
        if (sb.Length > PyOps.MaxStringLength) throw new TemplateRuntimeError("tojson result too long");
        switch (v)
        {
            case null: sb.Append("null"); return;
            case bool b: sb.Append(b ? "true" : "false"); return;
            case long l: sb.Append(l.ToString(CultureInfo.InvariantCulture)); return;
            case double d:
                sb.Append(double.IsNaN(d) ? "NaN" : double.IsPositiveInfinity(d) ? "Infinity" : double.IsNegativeInfinity(d) ? "-Infinity" : PyOps.FloatRepr(d));
                return;
            case string s: WriteString(sb, s, ascii); return;
            case PyList list:
                if (list.Count == 0) { sb.Append("[]"); return; }
                sb.Append('[');
                for (int i = 0; i < list.Count; i++)
                {
                    if (i > 0) sb.Append(itemSep);
                    NewLine(sb, indent, level + 1);
                    Write(sb, list[i], ascii, indent, itemSep, keySep, sort, level + 1);
                }
                NewLine(sb, indent, level);
                sb.Append(']');
                return;
            case PyDict dict:
            {
                if (dict.Count == 0) { sb.Append("{}"); return; }
                var pairs = dict.Select(kv => (Key: KeyString(PyDict.Unwrap(kv.Key)), kv.Value)).ToList();
                if (sort) pairs.Sort((a, b) => PyOps.CompareCodePoints(a.Key, b.Key));
                sb.Append('{');
                for (int i = 0; i < pairs.Count; i++)
                {
                    if (i > 0) sb.Append(itemSep);
                    NewLine(sb, indent, level + 1);
                    WriteString(sb, pairs[i].Key, ascii);
                    sb.Append(keySep);
                    Write(sb, pairs[i].Value, ascii, indent, itemSep, keySep, sort, level + 1);
                }
                NewLine(sb, indent, level);
                sb.Append('}');
                return;
            }
            default:
                throw new TemplateRuntimeError($"Object of type {PyOps.TypeName(v)} is not JSON serializable");
        }
    }

    private static string KeyString(object? key) => key switch
    {
        string s => s,
        null => "null",
        bool b => b ? "true" : "false",
        long l => l.ToString(CultureInfo.InvariantCulture),
        double d => double.IsNaN(d) ? "NaN" : double.IsInfinity(d) ? (d > 0 ? "Infinity" : "-Infinity") : PyOps.FloatRepr(d),
        _ => throw new TemplateRuntimeError($"keys must be str, int, float, bool or None, not {PyOps.TypeName(key)}"),
    };

    private static void NewLine(StringBuilder sb, string? indent, int level)
    {
        if (indent == null) return;
        sb.Append('\n');
        for (int i = 0; i < level; i++) sb.Append(indent);
    }

    private static void WriteString(StringBuilder sb, string s, bool ascii)
    {
        sb.Append('"');
        foreach (char c in s)
        {
            switch (c)
            {
                case '"': sb.Append("\\\""); break;
                case '\\': sb.Append("\\\\"); break;
                case '\n': sb.Append("\\n"); break;
                case '\r': sb.Append("\\r"); break;
                case '\t': sb.Append("\\t"); break;
                case '\b': sb.Append("\\b"); break;
                case '\f': sb.Append("\\f"); break;
                default:
                    if (c < 0x20 || (ascii && c > 0x7e))
                        sb.Append("\\u").Append(((int)c).ToString("x4", CultureInfo.InvariantCulture));
                    else sb.Append(c);
                    break;
            }
        }
        sb.Append('"');
    }
}
