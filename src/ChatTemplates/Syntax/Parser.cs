using System.Globalization;

namespace MlPipelines.ChatTemplates.Syntax;

/// <summary>
/// Parses Jinja tokens into the statement tree, with Jinja's operator precedence (conditional, or, and, not,
/// comparisons and <c>in</c>, <c>+ -</c>, <c>~</c>, <c>* / // %</c>, <c>**</c>, unary minus, then postfix access,
/// filters and tests). Nesting is limited (<see cref="MaxDepth"/>) so a hostile template cannot exhaust the stack.
/// </summary>
internal sealed class Parser
{
    public const int MaxDepth = 200;

    private readonly List<Token> tokens;
    private int index;
    private int depth;

    private Parser(List<Token> tokens) => this.tokens = tokens;

    public static IReadOnlyList<Stmt> Parse(string source)
    {
        var parser = new Parser(Lexer.Tokenize(source));
        var body = parser.ParseBody(out string? end);
        if (end != null) throw Error($"unexpected '{end}': no block is open", parser.Previous());
        return body;
    }

    private Token Current => tokens[index];

    private Token Peek(int ahead = 1) => tokens[Math.Min(index + ahead, tokens.Count - 1)];

    private Token Previous() => tokens[Math.Max(0, index - 1)];

    private Token Next() => tokens[index < tokens.Count - 1 ? index++ : index];

    private static ChatTemplateException Error(string message, Token at) => new(message, at.Line, at.Column);

    private ChatTemplateException Error(string message) => Error(message, Current);

    private bool IsOp(string op) => Current.Kind == TokenKind.Operator && Current.Value == op;

    private bool IsName(string name) => Current.Kind == TokenKind.Name && Current.Value == name;

    private bool SkipOp(string op)
    {
        if (!IsOp(op)) return false;
        index++;
        return true;
    }

    private bool SkipName(string name)
    {
        if (!IsName(name)) return false;
        index++;
        return true;
    }

    private Token ExpectOp(string op) => IsOp(op) ? Next() : throw Error($"expected '{op}', got {Current}");

    private Token ExpectName()
    {
        if (Current.Kind != TokenKind.Name) throw Error($"expected a name, got {Current}");
        return Next();
    }

    private void ExpectBlockEnd()
    {
        if (Current.Kind != TokenKind.BlockEnd) throw Error($"expected end of statement '%}}', got {Current}");
        index++;
    }

    private void Enter()
    {
        if (++depth > MaxDepth) throw Error($"template nests deeper than {MaxDepth} levels");
    }

    private void Leave() => depth--;

    // ---------------------------------------------------------------- statements

    /// <summary>Parses statements until an end tag (returned in <paramref name="endTag"/>, its name consumed) or the end.</summary>
    private List<Stmt> ParseBody(out string? endTag, params string[] ends)
    {
        Enter();
        var body = new List<Stmt>();
        endTag = null;
        while (true)
        {
            var token = Current;
            switch (token.Kind)
            {
                case TokenKind.Eof:
                    if (ends.Length > 0) throw Error($"unexpected end of template: expected {string.Join(" or ", ends.Select(e => $"'{e}'"))}", token);
                    Leave();
                    return body;
                case TokenKind.Text:
                    index++;
                    body.Add(new TextStmt(token.Value, token.Line, token.Column));
                    break;
                case TokenKind.VariableBegin:
                    index++;
                    var expr = ParseTuple(withCondExpr: true);
                    if (Current.Kind != TokenKind.VariableEnd) throw Error($"expected end of print statement '}}}}', got {Current}");
                    index++;
                    body.Add(new OutputStmt(expr, token.Line, token.Column));
                    break;
                case TokenKind.BlockBegin:
                    index++;
                    var nameToken = Current;
                    if (nameToken.Kind != TokenKind.Name) throw Error($"expected a statement name, got {nameToken}");
                    if (ends.Contains(nameToken.Value))
                    {
                        index++;
                        endTag = nameToken.Value;
                        Leave();
                        return body;
                    }
                    body.Add(ParseStatement(nameToken));
                    break;
                default:
                    throw Error($"unexpected {token}");
            }
        }
    }

    private Stmt ParseStatement(Token name)
    {
        index++;
        switch (name.Value)
        {
            case "if": return ParseIf(name);
            case "for": return ParseFor(name);
            case "set": return ParseSet(name);
            case "macro": return ParseMacro(name);
            case "filter":
            {
                var filters = ParseFilterChain();
                ExpectBlockEnd();
                var body = ParseBody(out _, "endfilter");
                ExpectBlockEnd();
                return new FilterBlockStmt(filters, body, name.Line, name.Column);
            }
            case "generation":
            {
                // Hugging Face's AssistantTracker extension: marks assistant text; renders its body unchanged.
                ExpectBlockEnd();
                var body = ParseBody(out _, "endgeneration");
                ExpectBlockEnd();
                return new IfStmt([(new LiteralExpr(true, name.Line, name.Column), body)], null, name.Line, name.Column);
            }
            case "break":
                ExpectBlockEnd();
                return new BreakStmt(name.Line, name.Column);
            case "continue":
                ExpectBlockEnd();
                return new ContinueStmt(name.Line, name.Column);
            case "elif" or "else" or "endif" or "endfor" or "endset" or "endmacro" or "endfilter" or "endgeneration" or "endraw":
                throw Error($"unexpected '{name.Value}': no matching block is open", name);
            default:
                throw Error($"unknown or unsupported tag '{name.Value}'", name);
        }
    }

    private Stmt ParseIf(Token start)
    {
        var branches = new List<(Expr, IReadOnlyList<Stmt>)>();
        IReadOnlyList<Stmt>? elseBody = null;
        var test = ParseTuple(withCondExpr: false);
        ExpectBlockEnd();
        while (true)
        {
            var body = ParseBody(out string? end, "elif", "else", "endif");
            branches.Add((test, body));
            if (end == "elif")
            {
                test = ParseTuple(withCondExpr: false);
                ExpectBlockEnd();
                continue;
            }
            if (end == "else")
            {
                ExpectBlockEnd();
                elseBody = ParseBody(out _, "endif");
            }
            ExpectBlockEnd();
            return new IfStmt(branches, elseBody, start.Line, start.Column);
        }
    }

    private Stmt ParseFor(Token start)
    {
        var target = ParseAssignTarget(allowNamespace: false);
        if (!SkipName("in")) throw Error($"expected 'in' in for loop, got {Current}");
        var iterable = ParseTuple(withCondExpr: false, stopAtNames: ["recursive", "if"]);
        Expr? filter = null;
        if (SkipName("if")) filter = ParseExpression(withCondExpr: true);
        if (IsName("recursive")) throw Error("recursive for loops are not supported");
        ExpectBlockEnd();
        var body = ParseBody(out string? end, "endfor", "else");
        IReadOnlyList<Stmt>? elseBody = null;
        if (end == "else")
        {
            ExpectBlockEnd();
            elseBody = ParseBody(out _, "endfor");
        }
        ExpectBlockEnd();
        return new ForStmt(target.Names, target.IsTuple, iterable, filter, body, elseBody, start.Line, start.Column);
    }

    private SetTarget ParseAssignTarget(bool allowNamespace)
    {
        bool parens = SkipOp("(");
        var first = ExpectName();
        if (allowNamespace && !parens && IsOp("."))
        {
            index++;
            var attr = ExpectName();
            return new SetTarget([first.Value], attr.Value, false);
        }
        var names = new List<string> { first.Value };
        bool tuple = parens;
        while (SkipOp(","))
        {
            tuple = true;
            if (Current.Kind != TokenKind.Name) break;
            names.Add(ExpectName().Value);
        }
        if (parens) ExpectOp(")");
        foreach (string n in names)
            if (n is "true" or "false" or "none" or "True" or "False" or "None")
                throw Error($"cannot assign to '{n}'");
        return new SetTarget(names, null, tuple);
    }

    private Stmt ParseSet(Token start)
    {
        var target = ParseAssignTarget(allowNamespace: true);
        if (SkipOp("="))
        {
            var value = ParseTuple(withCondExpr: true);
            ExpectBlockEnd();
            return new SetStmt(target, value, start.Line, start.Column);
        }
        if (target.Attribute != null || target.IsTuple) throw Error("a block set assigns a single name");
        var filters = IsOp("|") ? ParseFilterChain() : [];
        ExpectBlockEnd();
        var body = ParseBody(out _, "endset");
        ExpectBlockEnd();
        return new SetBlockStmt(target, filters, body, start.Line, start.Column);
    }

    private List<(string, Arguments, int, int)> ParseFilterChain()
    {
        var filters = new List<(string, Arguments, int, int)>();
        bool first = !IsOp("|");
        while (first || SkipOp("|"))
        {
            first = false;
            var nameToken = ExpectName();
            string name = nameToken.Value;
            while (IsOp(".") && Peek().Kind == TokenKind.Name)
            {
                index++;
                name += "." + Next().Value;
            }
            var args = IsOp("(") ? ParseCallArgs() : Arguments.None;
            filters.Add((name, args, nameToken.Line, nameToken.Column));
        }
        return filters;
    }

    private Stmt ParseMacro(Token start)
    {
        var name = ExpectName();
        ExpectOp("(");
        var parameters = new List<(string, Expr?)>();
        bool defaults = false;
        while (!IsOp(")"))
        {
            if (parameters.Count > 0) ExpectOp(",");
            if (IsOp(")")) break;
            var p = ExpectName();
            Expr? def = null;
            if (SkipOp("=")) { def = ParseExpression(withCondExpr: true); defaults = true; }
            else if (defaults) throw Error("non-default argument follows default argument", p);
            parameters.Add((p.Value, def));
        }
        ExpectOp(")");
        ExpectBlockEnd();
        var body = ParseBody(out _, "endmacro");
        if (Current.Kind == TokenKind.Name) index++; // {% endmacro name %}
        ExpectBlockEnd();
        return new MacroStmt(name.Value, parameters, body, start.Line, start.Column);
    }

    // ---------------------------------------------------------------- expressions

    private Expr ParseTuple(bool withCondExpr, string[]? stopAtNames = null, bool explicitParens = false)
    {
        var start = Current;
        var items = new List<Expr>();
        bool isTuple = false;
        while (true)
        {
            if (items.Count > 0)
            {
                if (!SkipOp(",")) break;
                isTuple = true;
            }
            if (IsTupleEnd(stopAtNames)) break;
            items.Add(ParseExpression(withCondExpr));
        }
        if (!isTuple)
        {
            if (items.Count == 1) return items[0];
            if (!explicitParens) throw Error($"expected an expression, got {Current}");
        }
        return new ListExpr(items, true, start.Line, start.Column);
    }

    private bool IsTupleEnd(string[]? stopAtNames) =>
        Current.Kind is TokenKind.VariableEnd or TokenKind.BlockEnd or TokenKind.Eof
        || (Current.Kind == TokenKind.Operator && Current.Value is ")" or "]" or "}")
        || (stopAtNames != null && Current.Kind == TokenKind.Name && stopAtNames.Contains(Current.Value));

    private Expr ParseExpression(bool withCondExpr)
    {
        Enter();
        try
        {
            return withCondExpr ? ParseCondExpr() : ParseOr();
        }
        finally { Leave(); }
    }

    private Expr ParseCondExpr()
    {
        var expr = ParseOr();
        while (IsName("if"))
        {
            var at = Next();
            var test = ParseOr();
            Expr? otherwise = null;
            if (SkipName("else")) otherwise = ParseCondExpr();
            expr = new ConditionalExpr(test, expr, otherwise, at.Line, at.Column);
        }
        return expr;
    }

    private Expr ParseOr()
    {
        var left = ParseAnd();
        while (IsName("or"))
        {
            var at = Next();
            left = new BinaryExpr("or", left, ParseAnd(), at.Line, at.Column);
        }
        return left;
    }

    private Expr ParseAnd()
    {
        var left = ParseNot();
        while (IsName("and"))
        {
            var at = Next();
            left = new BinaryExpr("and", left, ParseNot(), at.Line, at.Column);
        }
        return left;
    }

    private Expr ParseNot()
    {
        if (IsName("not"))
        {
            var at = Next();
            Enter();
            try { return new UnaryExpr("not", ParseNot(), at.Line, at.Column); }
            finally { Leave(); }
        }
        return ParseCompare();
    }

    private Expr ParseCompare()
    {
        var first = ParseMath1();
        var rest = new List<(string, Expr)>();
        while (true)
        {
            if (Current.Kind == TokenKind.Operator && Current.Value is "==" or "!=" or "<" or ">" or "<=" or ">=")
            {
                string op = Next().Value;
                rest.Add((op, ParseMath1()));
            }
            else if (IsName("in"))
            {
                index++;
                rest.Add(("in", ParseMath1()));
            }
            else if (IsName("not") && Peek().Kind == TokenKind.Name && Peek().Value == "in")
            {
                index += 2;
                rest.Add(("not in", ParseMath1()));
            }
            else break;
        }
        return rest.Count == 0 ? first : new CompareExpr(first, rest, first.Line, first.Column);
    }

    private Expr ParseMath1()
    {
        var left = ParseConcat();
        while (Current.Kind == TokenKind.Operator && Current.Value is "+" or "-")
        {
            var at = Next();
            left = new BinaryExpr(at.Value, left, ParseConcat(), at.Line, at.Column);
        }
        return left;
    }

    private Expr ParseConcat()
    {
        var left = ParseMath2();
        while (IsOp("~"))
        {
            var at = Next();
            left = new BinaryExpr("~", left, ParseMath2(), at.Line, at.Column);
        }
        return left;
    }

    private Expr ParseMath2()
    {
        var left = ParsePow();
        while (Current.Kind == TokenKind.Operator && Current.Value is "*" or "/" or "//" or "%")
        {
            var at = Next();
            left = new BinaryExpr(at.Value, left, ParsePow(), at.Line, at.Column);
        }
        return left;
    }

    private Expr ParsePow()
    {
        var left = ParseUnary(withFilter: true);
        while (IsOp("**"))
        {
            var at = Next();
            left = new BinaryExpr("**", left, ParseUnary(withFilter: true), at.Line, at.Column);
        }
        return left;
    }

    private Expr ParseUnary(bool withFilter)
    {
        Enter();
        try
        {
            Expr node;
            var at = Current;
            if (IsOp("-") || IsOp("+"))
            {
                index++;
                node = new UnaryExpr(at.Value, ParseUnary(withFilter: false), at.Line, at.Column);
            }
            else node = ParsePrimary();
            node = ParsePostfix(node);
            if (withFilter) node = ParseFilterExpr(node);
            return node;
        }
        finally { Leave(); }
    }

    private Expr ParsePrimary()
    {
        var token = Current;
        switch (token.Kind)
        {
            case TokenKind.Name:
                index++;
                return token.Value switch
                {
                    "true" or "True" => new LiteralExpr(true, token.Line, token.Column),
                    "false" or "False" => new LiteralExpr(false, token.Line, token.Column),
                    "none" or "None" => new LiteralExpr(null, token.Line, token.Column),
                    _ => new NameExpr(token.Value, token.Line, token.Column),
                };
            case TokenKind.String:
            {
                index++;
                string value = token.Value;
                while (Current.Kind == TokenKind.String) value += Next().Value;
                return new LiteralExpr(value, token.Line, token.Column);
            }
            case TokenKind.Integer:
                index++;
                if (!long.TryParse(token.Value, NumberStyles.None, CultureInfo.InvariantCulture, out long l))
                    throw Error("integer literal too large", token);
                return new LiteralExpr(l, token.Line, token.Column);
            case TokenKind.Float:
                index++;
                return new LiteralExpr(double.Parse(token.Value, NumberStyles.Float, CultureInfo.InvariantCulture), token.Line, token.Column);
            case TokenKind.Operator when token.Value == "(":
            {
                index++;
                var inner = ParseTuple(withCondExpr: true, explicitParens: true);
                ExpectOp(")");
                return inner;
            }
            case TokenKind.Operator when token.Value == "[":
            {
                index++;
                var items = new List<Expr>();
                while (!IsOp("]"))
                {
                    if (items.Count > 0) ExpectOp(",");
                    if (IsOp("]")) break;
                    items.Add(ParseExpression(withCondExpr: true));
                }
                ExpectOp("]");
                return new ListExpr(items, false, token.Line, token.Column);
            }
            case TokenKind.Operator when token.Value == "{":
            {
                index++;
                var pairs = new List<(Expr, Expr)>();
                while (!IsOp("}"))
                {
                    if (pairs.Count > 0) ExpectOp(",");
                    if (IsOp("}")) break;
                    var key = ParseExpression(withCondExpr: true);
                    ExpectOp(":");
                    pairs.Add((key, ParseExpression(withCondExpr: true)));
                }
                ExpectOp("}");
                return new DictExpr(pairs, token.Line, token.Column);
            }
            default:
                throw Error($"unexpected {token}", token);
        }
    }

    private Expr ParsePostfix(Expr node)
    {
        while (true)
        {
            var at = Current;
            if (IsOp("."))
            {
                index++;
                if (Current.Kind == TokenKind.Name)
                    node = new GetAttrExpr(node, Next().Value, at.Line, at.Column);
                else if (Current.Kind == TokenKind.Integer)
                {
                    Token item = Next();
                    if (!long.TryParse(item.Value, NumberStyles.None, CultureInfo.InvariantCulture, out long i))
                        throw Error("integer literal too large", item);
                    node = new GetItemExpr(node, new LiteralExpr(i, at.Line, at.Column), at.Line, at.Column);
                }
                else throw Error($"expected an attribute name after '.', got {Current}");
            }
            else if (IsOp("["))
            {
                index++;
                node = ParseSubscript(node, at);
                ExpectOp("]");
            }
            else if (IsOp("("))
                node = new CallExpr(node, ParseCallArgs(), at.Line, at.Column);
            else return node;
        }
    }

    private Expr ParseSubscript(Expr target, Token at)
    {
        Expr? start = null;
        if (!IsOp(":"))
        {
            start = ParseExpression(withCondExpr: true);
            if (!IsOp(":")) return new GetItemExpr(target, start, at.Line, at.Column);
        }
        index++; // ':'
        Expr? stop = null, step = null;
        if (!IsOp("]") && !IsOp(":")) stop = ParseExpression(withCondExpr: true);
        if (SkipOp(":") && !IsOp("]")) step = ParseExpression(withCondExpr: true);
        return new SliceExpr(target, start, stop, step, at.Line, at.Column);
    }

    private Arguments ParseCallArgs()
    {
        ExpectOp("(");
        var positional = new List<Expr>();
        var keyword = new List<(string, Expr)>();
        while (!IsOp(")"))
        {
            if (positional.Count + keyword.Count > 0) ExpectOp(",");
            if (IsOp(")")) break;
            if (IsOp("*") || IsOp("**")) throw Error("*args and **kwargs in calls are not supported");
            if (Current.Kind == TokenKind.Name && Peek().Kind == TokenKind.Operator && Peek().Value == "=")
            {
                string name = Next().Value;
                index++;
                keyword.Add((name, ParseExpression(withCondExpr: true)));
            }
            else
            {
                if (keyword.Count > 0) throw Error("positional argument follows keyword argument");
                positional.Add(ParseExpression(withCondExpr: true));
            }
        }
        ExpectOp(")");
        return new Arguments(positional, keyword);
    }

    private Expr ParseFilterExpr(Expr node)
    {
        while (true)
        {
            var at = Current;
            if (IsOp("|"))
            {
                foreach (var (name, args, line, column) in ParseFilterChainOnce())
                    node = new FilterExpr(node, name, args, line, column);
            }
            else if (IsName("is"))
            {
                index++;
                bool negated = SkipName("not");
                var nameToken = ExpectName();
                string name = nameToken.Value;
                while (IsOp(".") && Peek().Kind == TokenKind.Name)
                {
                    index++;
                    name += "." + Next().Value;
                }
                Arguments args = Arguments.None;
                if (IsOp("(")) args = ParseCallArgs();
                else if ((Current.Kind is TokenKind.Name or TokenKind.String or TokenKind.Integer or TokenKind.Float
                          || (Current.Kind == TokenKind.Operator && Current.Value is "[" or "{" or "("))
                         && !(Current.Kind == TokenKind.Name && Current.Value is "else" or "or" or "and"))
                {
                    if (IsName("is")) throw Error("tests cannot be chained with 'is'");
                    var arg = ParsePostfix(ParsePrimary());
                    args = new Arguments([arg], []);
                }
                node = new TestExpr(node, name, args, negated, at.Line, at.Column);
            }
            else if (IsOp("("))
                node = new CallExpr(node, ParseCallArgs(), at.Line, at.Column);
            else return node;
        }
    }

    private List<(string, Arguments, int, int)> ParseFilterChainOnce()
    {
        ExpectOp("|");
        var nameToken = ExpectName();
        string name = nameToken.Value;
        while (IsOp(".") && Peek().Kind == TokenKind.Name)
        {
            index++;
            name += "." + Next().Value;
        }
        var args = IsOp("(") ? ParseCallArgs() : Arguments.None;
        return [(name, args, nameToken.Line, nameToken.Column)];
    }
}
