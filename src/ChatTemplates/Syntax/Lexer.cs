using System.Globalization;
using System.Text;

namespace MlPipelines.ChatTemplates.Syntax;

internal enum TokenKind
{
    Text,
    VariableBegin,
    VariableEnd,
    BlockBegin,
    BlockEnd,
    Name,
    String,
    Integer,
    Float,
    Operator,
    Eof,
}

internal readonly record struct Token(TokenKind Kind, string Value, int Line, int Column)
{
    public override string ToString() => Kind switch
    {
        TokenKind.Eof => "end of template",
        TokenKind.Text => "template text",
        TokenKind.VariableEnd => "'}}'",
        TokenKind.BlockEnd => "'%}'",
        TokenKind.String => "string literal",
        _ => $"'{Value}'",
    };
}

/// <summary>
/// Splits a template into text and tag tokens the way Jinja's lexer does with Hugging Face's settings:
/// <c>trim_blocks</c> (the first newline after a block or comment tag is removed), <c>lstrip_blocks</c> (spaces and
/// tabs before a block or comment tag at the start of a line are removed), <c>-</c> whitespace control on either
/// side of any tag (<c>+</c> disables lstrip/trim for that tag), newlines normalised to <c>\n</c>, one trailing
/// newline dropped (<c>keep_trailing_newline=False</c>), and <c>{% raw %}</c> blocks.
/// </summary>
internal sealed class Lexer
{
    private static readonly string[] Operators =
        ["**", "//", "==", "!=", ">=", "<=", "+", "-", "*", "/", "%", "~", "[", "]", "(", ")", "{", "}", ">", "<", "=", ".", ":", "|", ",", ";"];

    private readonly string src;
    private readonly List<Token> tokens = [];
    private int pos;
    private readonly int[] lineStarts;

    private Lexer(string source)
    {
        src = source;
        var starts = new List<int> { 0 };
        for (int i = 0; i < src.Length; i++)
            if (src[i] == '\n') starts.Add(i + 1);
        lineStarts = [.. starts];
    }

    public static List<Token> Tokenize(string source)
    {
        string normalized = source.Replace("\r\n", "\n").Replace('\r', '\n');
        if (normalized.EndsWith('\n')) normalized = normalized[..^1];
        var lexer = new Lexer(normalized);
        lexer.Run();
        return lexer.tokens;
    }

    private (int Line, int Column) Location(int offset)
    {
        int index = Array.BinarySearch(lineStarts, offset);
        if (index < 0) index = ~index - 1;
        return (index + 1, offset - lineStarts[index] + 1);
    }

    private ChatTemplateException Error(string message, int offset)
    {
        var (line, column) = Location(offset);
        return new ChatTemplateException(message, line, column);
    }

    private void Add(TokenKind kind, string value, int offset)
    {
        var (line, column) = Location(offset);
        tokens.Add(new Token(kind, value, line, column));
    }

    private void Run()
    {
        bool lineStarting = true;
        while (pos < src.Length)
        {
            int tag = FindTagStart(pos);
            int textEnd = tag < 0 ? src.Length : tag;
            string text = src[pos..textEnd];
            if (tag < 0)
            {
                if (text.Length > 0) Add(TokenKind.Text, text, pos);
                pos = src.Length;
                break;
            }
            char kind = src[tag + 1];
            char sign = tag + 2 < src.Length ? src[tag + 2] : '\0';
            if (sign == '-')
                text = RStrip(text);
            else if (sign != '+' && kind != '{')
            {
                // lstrip_blocks: whitespace between the start of the line and a block or comment tag goes.
                int lineStart = text.LastIndexOf('\n') + 1;
                if ((lineStart > 0 || lineStarting) && text.Length > lineStart && IsAllWhitespace(text, lineStart))
                    text = text[..lineStart];
            }
            if (text.Length > 0) Add(TokenKind.Text, text, pos);
            int bodyStart = tag + 2 + (sign is '-' or '+' ? 1 : 0);
            string consumedEnd;
            if (kind == '#')
                consumedEnd = LexComment(tag, bodyStart);
            else if (kind == '%' && TryLexRaw(tag, bodyStart, out consumedEnd)) { }
            else
                consumedEnd = LexTag(kind == '{', tag, bodyStart);
            lineStarting = consumedEnd.EndsWith('\n');
        }
        Add(TokenKind.Eof, "", src.Length);
    }

    private int FindTagStart(int from)
    {
        for (int i = src.IndexOf('{', from); i >= 0 && i + 1 < src.Length; i = src.IndexOf('{', i + 1))
            if (src[i + 1] is '{' or '%' or '#') return i;
        return -1;
    }

    private static bool IsAllWhitespace(string s, int from)
    {
        for (int i = from; i < s.Length; i++)
            if (!char.IsWhiteSpace(s[i])) return false;
        return true;
    }

    private static string RStrip(string s)
    {
        int end = s.Length;
        while (end > 0 && Runtime.PyOps.IsSpace(s[end - 1])) end--;
        return s[..end];
    }

    /// <summary>Consumes what follows a block or comment end: all whitespace after <c>-</c>, one newline otherwise (trim_blocks).</summary>
    private string ConsumeAfterEnd(char sign, bool trimBlocks)
    {
        int start = pos;
        if (sign == '-')
            while (pos < src.Length && char.IsWhiteSpace(src[pos])) pos++;
        else if (sign != '+' && trimBlocks && pos < src.Length && src[pos] == '\n')
            pos++;
        return src[start..pos];
    }

    private string LexComment(int tag, int bodyStart)
    {
        int end = src.IndexOf("#}", bodyStart, StringComparison.Ordinal);
        if (end < 0) throw Error("missing end of comment tag '#}'", tag);
        char sign = end - 1 >= bodyStart && src[end - 1] is '-' or '+' ? src[end - 1] : '\0';
        pos = end + 2;
        return ConsumeAfterEnd(sign, trimBlocks: true);
    }

    private bool TryLexRaw(int tag, int bodyStart, out string consumedEnd)
    {
        consumedEnd = "";
        int p = bodyStart;
        while (p < src.Length && char.IsWhiteSpace(src[p])) p++;
        if (string.CompareOrdinal(src, p, "raw", 0, 3) != 0) return false;
        p += 3;
        int q = p;
        while (q < src.Length && char.IsWhiteSpace(src[q])) q++;
        char sign = '\0';
        if (q < src.Length && src[q] is '-' or '+') { sign = src[q]; q++; }
        if (string.CompareOrdinal(src, q, "%}", 0, 2) != 0) return false;
        pos = q + 2;
        ConsumeAfterEnd(sign, trimBlocks: true);
        // Find {% endraw %} (with optional whitespace control).
        for (int search = pos; ;)
        {
            int open = src.IndexOf("{%", search, StringComparison.Ordinal);
            if (open < 0) throw Error("missing '{% endraw %}' for this raw block", tag);
            int r = open + 2;
            char openSign = r < src.Length && src[r] is '-' or '+' ? src[r] : '\0';
            if (openSign != '\0') r++;
            while (r < src.Length && char.IsWhiteSpace(src[r])) r++;
            if (string.CompareOrdinal(src, r, "endraw", 0, 6) == 0)
            {
                r += 6;
                while (r < src.Length && char.IsWhiteSpace(src[r])) r++;
                char endSign = '\0';
                if (r < src.Length && src[r] is '-' or '+') { endSign = src[r]; r++; }
                if (string.CompareOrdinal(src, r, "%}", 0, 2) == 0)
                {
                    string raw = src[pos..open];
                    if (openSign == '-') raw = RStrip(raw);
                    else if (openSign != '+')
                    {
                        int lineStart = raw.LastIndexOf('\n') + 1;
                        if (lineStart > 0 && raw.Length > lineStart && IsAllWhitespace(raw, lineStart)) raw = raw[..lineStart];
                    }
                    if (raw.Length > 0) Add(TokenKind.Text, raw, pos);
                    pos = r + 2;
                    consumedEnd = ConsumeAfterEnd(endSign, trimBlocks: true);
                    return true;
                }
            }
            search = open + 2;
        }
    }

    private string LexTag(bool variable, int tag, int bodyStart)
    {
        Add(variable ? TokenKind.VariableBegin : TokenKind.BlockBegin, variable ? "{{" : "{%", tag);
        pos = bodyStart;
        var balance = new Stack<char>();
        while (true)
        {
            while (pos < src.Length && char.IsWhiteSpace(src[pos])) pos++;
            if (pos >= src.Length)
                throw Error(variable ? "unexpected end of template, expected '}}'" : "unexpected end of template, expected '%}'", tag);
            if (balance.Count == 0 && TryTagEnd(variable, out string consumed))
                return consumed;
            char c = src[pos];
            if (c is '\'' or '"') { LexString(); continue; }
            if (char.IsAsciiDigit(c)) { LexNumber(); continue; }
            if (char.IsLetter(c) || c == '_')
            {
                int start = pos;
                while (pos < src.Length && (char.IsLetterOrDigit(src[pos]) || src[pos] == '_')) pos++;
                Add(TokenKind.Name, src[start..pos], start);
                continue;
            }
            string? op = Operators.FirstOrDefault(o => string.CompareOrdinal(src, pos, o, 0, o.Length) == 0);
            if (op == null) throw Error($"unexpected character {Runtime.PyOps.StringRepr(c.ToString())} in tag", pos);
            if (op is "(" or "[" or "{") balance.Push(op[0]);
            else if (op is ")" or "]" or "}")
            {
                char expected = op == ")" ? '(' : op == "]" ? '[' : '{';
                if (balance.Count == 0 || balance.Peek() != expected)
                    throw Error($"unexpected '{op}'", pos);
                balance.Pop();
            }
            Add(TokenKind.Operator, op, pos);
            pos += op.Length;
        }
    }

    private bool TryTagEnd(bool variable, out string consumed)
    {
        consumed = "";
        string close = variable ? "}}" : "%}";
        char sign = '\0';
        int p = pos;
        if (src[p] is '-' or '+' && string.CompareOrdinal(src, p + 1, close, 0, 2) == 0)
        {
            sign = src[p];
            if (variable && sign == '+') return false;
            p++;
        }
        else if (string.CompareOrdinal(src, p, close, 0, 2) != 0) return false;
        Add(variable ? TokenKind.VariableEnd : TokenKind.BlockEnd, close, p);
        pos = p + 2;
        consumed = ConsumeAfterEnd(sign, trimBlocks: !variable);
        return true;
    }

    private void LexString()
    {
        int start = pos;
        char quote = src[pos++];
        var sb = new StringBuilder();
        while (true)
        {
            if (pos >= src.Length) throw Error("unterminated string literal", start);
            char c = src[pos];
            if (c == quote) { pos++; break; }
            if (c != '\\') { sb.Append(c); pos++; continue; }
            if (pos + 1 >= src.Length) throw Error("unterminated string literal", start);
            char e = src[pos + 1];
            pos += 2;
            switch (e)
            {
                case '\n': break; // line continuation
                case '\\': sb.Append('\\'); break;
                case '\'': sb.Append('\''); break;
                case '"': sb.Append('"'); break;
                case 'a': sb.Append('\a'); break;
                case 'b': sb.Append('\b'); break;
                case 'f': sb.Append('\f'); break;
                case 'n': sb.Append('\n'); break;
                case 'r': sb.Append('\r'); break;
                case 't': sb.Append('\t'); break;
                case 'v': sb.Append('\v'); break;
                case >= '0' and <= '7':
                {
                    int value = e - '0';
                    for (int k = 0; k < 2 && pos < src.Length && src[pos] is >= '0' and <= '7'; k++) value = value * 8 + (src[pos++] - '0');
                    sb.Append((char)value);
                    break;
                }
                case 'x': sb.Append(HexEscape(2, start)); break;
                case 'u': sb.Append(HexEscape(4, start)); break;
                case 'U': sb.Append(HexEscape(8, start)); break;
                default: sb.Append('\\').Append(e); break;
            }
        }
        Add(TokenKind.String, sb.ToString(), start);
    }

    private string HexEscape(int digits, int stringStart)
    {
        if (pos + digits > src.Length || !int.TryParse(src.AsSpan(pos, digits), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out int cp)
            || src.AsSpan(pos, digits).ContainsAny("+- "))
            throw Error($"truncated \\{(digits == 2 ? 'x' : digits == 4 ? 'u' : 'U')} escape in string literal", stringStart);
        pos += digits;
        // Eight hex digits can exceed int.MaxValue, which parses as a negative number: compare unsigned.
        if ((uint)cp > 0x10FFFF) throw Error("illegal Unicode character in string literal", stringStart);
        return cp is >= 0xD800 and <= 0xDFFF ? ((char)cp).ToString() : char.ConvertFromUtf32(cp);
    }

    private void LexNumber()
    {
        int start = pos;
        ScanDigits();
        bool isFloat = false;
        if (pos + 1 < src.Length && src[pos] == '.' && char.IsAsciiDigit(src[pos + 1]))
        {
            isFloat = true;
            pos++;
            ScanDigits();
        }
        if (pos < src.Length && src[pos] is 'e' or 'E')
        {
            int save = pos;
            pos++;
            if (pos < src.Length && src[pos] is '+' or '-') pos++;
            if (pos < src.Length && char.IsAsciiDigit(src[pos])) { ScanDigits(); isFloat = true; }
            else pos = save;
        }
        string text = src[start..pos].Replace("_", "");
        Add(isFloat ? TokenKind.Float : TokenKind.Integer, text, start);
    }

    private void ScanDigits()
    {
        while (pos < src.Length && (char.IsAsciiDigit(src[pos]) || (src[pos] == '_' && pos + 1 < src.Length && char.IsAsciiDigit(src[pos + 1]))))
            pos++;
    }
}
