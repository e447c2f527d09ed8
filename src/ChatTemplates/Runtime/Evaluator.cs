using System.Text;
using MlPipelines.ChatTemplates.Syntax;

namespace MlPipelines.ChatTemplates.Runtime;

/// <summary>A variable scope: the template's top level, one for-loop iteration, or one macro call.</summary>
internal sealed class Scope
{
    private readonly Dictionary<string, object?> vars = new(StringComparer.Ordinal);

    public Scope(Scope? parent) => Parent = parent;

    public Scope? Parent { get; }

    public bool TryGet(string name, out object? value)
    {
        for (var s = this; s != null; s = s.Parent)
            if (s.vars.TryGetValue(name, out value)) return true;
        value = null;
        return false;
    }

    public void Set(string name, object? value) => vars[name] = value;
}

/// <summary>Executes a parsed template: statements write to the output, expressions follow Python and Jinja semantics.</summary>
internal sealed class Evaluator
{
    /// <summary>How deeply macros may call macros (Python would stop at its recursion limit).</summary>
    public const int MaxCallDepth = 100;

    private enum Flow { Normal, Break, Continue }

    private readonly TimeProvider time;
    private int callDepth;
    private int loopDepth;

    public Evaluator(TimeProvider time) => this.time = time;

    public string Render(IReadOnlyList<Stmt> body, IReadOnlyDictionary<string, object?> variables)
    {
        var globals = new Scope(null);
        foreach (var (name, value) in Globals()) globals.Set(name, value);
        var root = new Scope(globals);
        foreach (var (name, value) in variables) root.Set(name, ValueConverter.FromDotNet(value));
        var output = new StringBuilder();
        Execute(body, root, output);
        return output.ToString();
    }

    private IEnumerable<(string, object?)> Globals()
    {
        yield return ("range", new Callable("range", (args, kwargs) => Builtins.Range(args)));
        yield return ("namespace", new Callable("namespace", (args, kwargs) =>
        {
            var ns = new Namespace();
            foreach (object? a in args)
            {
                if (a is not PyDict d) throw new TemplateRuntimeError("namespace() takes a dict or keyword arguments");
                foreach (var (k, v) in d) ns.Attributes.Set(PyDict.Unwrap(k), v);
            }
            foreach (var (k, v) in kwargs) ns.Attributes.Set(k, v);
            return ns;
        }));
        yield return ("dict", new Callable("dict", (args, kwargs) =>
        {
            var d = new PyDict();
            foreach (object? a in args)
                if (a is PyDict src) foreach (var (k, v) in src) d.Set(PyDict.Unwrap(k), v);
            foreach (var (k, v) in kwargs) d.Set(k, v);
            return d;
        }));
        yield return ("raise_exception", new Callable("raise_exception", (args, kwargs) =>
            throw new TemplateRuntimeError(args.Count > 0 ? PyOps.Str(args[0]) : "", raisedByTemplate: true)));
        yield return ("strftime_now", new Callable("strftime_now", (args, kwargs) =>
            Strftime.Format(args.Count > 0 && args[0] is string f ? f : throw new TemplateRuntimeError("strftime_now() takes a format string"),
                time.GetLocalNow().DateTime)));
    }

    // ---------------------------------------------------------------- statements

    private Flow Execute(IReadOnlyList<Stmt> body, Scope scope, StringBuilder output)
    {
        foreach (var stmt in body)
        {
            var flow = ExecuteOne(stmt, scope, output);
            if (flow != Flow.Normal) return flow;
        }
        return Flow.Normal;
    }

    private Flow ExecuteOne(Stmt stmt, Scope scope, StringBuilder output)
    {
        try
        {
            switch (stmt)
            {
                case TextStmt t:
                    Append(output, t.Text);
                    return Flow.Normal;
                case OutputStmt o:
                    Append(output, PyOps.Str(Eval(o.Value, scope)));
                    return Flow.Normal;
                case IfStmt i:
                    foreach (var (test, branch) in i.Branches)
                        if (PyOps.IsTrue(Eval(test, scope))) return Execute(branch, scope, output);
                    return i.Else != null ? Execute(i.Else, scope, output) : Flow.Normal;
                case ForStmt f:
                    ExecuteFor(f, scope, output);
                    return Flow.Normal;
                case SetStmt s:
                    Assign(s.Target, Eval(s.Value, scope), scope);
                    return Flow.Normal;
                case SetBlockStmt sb:
                {
                    var captured = new StringBuilder();
                    Execute(sb.Body, scope, captured);
                    object? value = captured.ToString();
                    foreach (var (name, args, _, _) in sb.Filters) value = ApplyFilter(name, value, args, scope);
                    Assign(sb.Target, value, scope);
                    return Flow.Normal;
                }
                case FilterBlockStmt fb:
                {
                    var captured = new StringBuilder();
                    Execute(fb.Body, scope, captured);
                    object? value = captured.ToString();
                    foreach (var (name, args, _, _) in fb.Filters) value = ApplyFilter(name, value, args, scope);
                    Append(output, PyOps.Str(value));
                    return Flow.Normal;
                }
                case MacroStmt m:
                    scope.Set(m.Name, MakeMacro(m, scope));
                    return Flow.Normal;
                case BreakStmt:
                    if (loopDepth == 0) throw new TemplateRuntimeError("'break' outside of a loop");
                    return Flow.Break;
                case ContinueStmt:
                    if (loopDepth == 0) throw new TemplateRuntimeError("'continue' outside of a loop");
                    return Flow.Continue;
                default:
                    throw new InvalidOperationException("unknown statement " + stmt.GetType().Name);
            }
        }
        catch (TemplateRuntimeError e)
        {
            throw new ChatTemplateException(e.Message, e.RaisedByTemplate ? 0 : stmt.Line, e.RaisedByTemplate ? 0 : stmt.Column, e.RaisedByTemplate);
        }
    }

    private static void Append(StringBuilder output, string text)
    {
        if ((long)output.Length + text.Length > PyOps.MaxStringLength)
            throw new TemplateRuntimeError($"the rendered text exceeds {PyOps.MaxStringLength} characters");
        RenderBudget.Characters(text.Length);
        output.Append(text);
    }

    private void ExecuteFor(ForStmt f, Scope scope, StringBuilder output)
    {
        object? iterable = Eval(f.Iterable, scope);
        List<object?> items = PyOps.Iterate(iterable);
        if (f.Filter != null)
        {
            var kept = new List<object?>();
            foreach (object? item in items)
            {
                RenderBudget.Step();
                var filterScope = new Scope(scope);
                BindTargets(f, item, filterScope);
                if (PyOps.IsTrue(Eval(f.Filter, filterScope))) kept.Add(item);
            }
            items = kept;
        }
        if (items.Count == 0)
        {
            if (f.Else != null) Execute(f.Else, scope, output);
            return;
        }
        scope.TryGet("loop", out object? outer);
        var loop = new LoopInfo(items, outer is LoopInfo o ? o.Depth0 + 1 : 0);
        loopDepth++;
        try
        {
            for (int i = 0; i < items.Count; i++)
            {
                RenderBudget.Step();
                loop.Index0 = i;
                var iteration = new Scope(scope);
                iteration.Set("loop", loop);
                BindTargets(f, items[i], iteration);
                if (Execute(f.Body, iteration, output) == Flow.Break) break;
            }
        }
        finally { loopDepth--; }
    }

    private static void BindTargets(ForStmt f, object? item, Scope scope)
    {
        if (!f.TupleTarget)
        {
            scope.Set(f.Targets[0], item);
            return;
        }
        Unpack(f.Targets, item, scope);
    }

    private static void Unpack(IReadOnlyList<string> names, object? value, Scope scope)
    {
        List<object?> parts = PyOps.Iterate(value is Undefined u ? throw new TemplateRuntimeError(u.Hint) : value);
        if (parts.Count != names.Count)
            throw new TemplateRuntimeError(parts.Count < names.Count
                ? $"not enough values to unpack (expected {names.Count}, got {parts.Count})"
                : $"too many values to unpack (expected {names.Count})");
        for (int i = 0; i < names.Count; i++) scope.Set(names[i], parts[i]);
    }

    private static void Assign(SetTarget target, object? value, Scope scope)
    {
        if (target.Attribute != null)
        {
            if (!scope.TryGet(target.Names[0], out object? ns) || ns is not Namespace n)
                throw new TemplateRuntimeError("cannot assign attribute on non-namespace object");
            n.Attributes.Set(target.Attribute, value);
        }
        else if (target.IsTuple) Unpack(target.Names, value, scope);
        else scope.Set(target.Names[0], value);
    }

    private Callable MakeMacro(MacroStmt m, Scope definedIn) => new(m.Name, (args, kwargs) =>
    {
        if (args.Count > m.Parameters.Count) throw new TemplateRuntimeError($"macro '{m.Name}' takes not more than {m.Parameters.Count} argument(s)");
        RenderBudget.Step();
        if (++callDepth > MaxCallDepth)
        {
            callDepth--;
            throw new TemplateRuntimeError($"macro calls nest deeper than {MaxCallDepth} levels");
        }
        try
        {
            var scope = new Scope(definedIn);
            var used = new HashSet<string>(StringComparer.Ordinal);
            for (int i = 0; i < m.Parameters.Count; i++)
            {
                var (name, def) = m.Parameters[i];
                if (i < args.Count) scope.Set(name, args[i]);
                else if (kwargs.TryGetValue(name, out object? kv)) scope.Set(name, kv);
                else scope.Set(name, def != null ? Eval(def, scope) : Undefined.Named(name));
                used.Add(name);
            }
            foreach (string k in kwargs.Keys)
                if (!used.Contains(k)) throw new TemplateRuntimeError($"macro '{m.Name}' takes no keyword argument '{k}'");
            var output = new StringBuilder();
            int savedLoops = loopDepth;
            loopDepth = 0;
            try { Execute(m.Body, scope, output); }
            finally { loopDepth = savedLoops; }
            return output.ToString();
        }
        finally { callDepth--; }
    });

    // ---------------------------------------------------------------- expressions

    public object? Eval(Expr expr, Scope scope)
    {
        switch (expr)
        {
            case LiteralExpr l: return l.Value;
            case NameExpr n: return scope.TryGet(n.Name, out object? v) ? v : Undefined.Named(n.Name);
            case ListExpr l:
            {
                var items = l.Items.Select(i => Eval(i, scope));
                return l.IsTuple ? new PyTuple(items) : new PyList(items);
            }
            case DictExpr d:
            {
                var dict = new PyDict();
                foreach (var (k, valueExpr) in d.Pairs)
                {
                    object? key = Eval(k, scope);
                    if (key is not null && !PyKeyComparer.IsHashable(key)) throw new TemplateRuntimeError($"unhashable type: '{PyOps.TypeName(key)}'");
                    dict.Set(key, Eval(valueExpr, scope));
                }
                return dict;
            }
            case GetAttrExpr g: return Access.GetAttribute(Eval(g.Target, scope), g.Attribute);
            case GetItemExpr g: return Access.GetItem(Eval(g.Target, scope), Eval(g.Key, scope));
            case SliceExpr s:
                return Access.Slice(Eval(s.Target, scope),
                    s.Start == null ? null : Eval(s.Start, scope), s.Stop == null ? null : Eval(s.Stop, scope), s.Step == null ? null : Eval(s.Step, scope));
            case CallExpr c:
            {
                object? callee = Eval(c.Callee, scope);
                var (args, kwargs) = EvalArgs(c.Args, scope);
                return callee switch
                {
                    Callable f => f.Invoke(args, kwargs),
                    Undefined u => throw new TemplateRuntimeError(u.Hint),
                    _ => throw new TemplateRuntimeError($"'{PyOps.TypeName(callee)}' object is not callable"),
                };
            }
            case FilterExpr f: return ApplyFilter(f.Name, Eval(f.Target, scope), f.Args, scope);
            case TestExpr t:
            {
                object? value = Eval(t.Target, scope);
                var (args, kwargs) = EvalArgs(t.Args, scope);
                bool result = Tests.Apply(t.Name, value, args, kwargs);
                return t.Negated ? !result : result;
            }
            case UnaryExpr u:
            {
                object? operand = Eval(u.Operand, scope);
                return u.Op switch
                {
                    "not" => !PyOps.IsTrue(operand),
                    "-" => PyOps.Negate(operand),
                    _ => PyOps.IsNumber(operand) ? (operand is bool b ? (b ? 1L : 0L) : operand) : throw new TemplateRuntimeError($"bad operand type for unary +: '{PyOps.TypeName(operand)}'"),
                };
            }
            case BinaryExpr b:
            {
                if (b.Op == "and")
                {
                    object? left = Eval(b.Left, scope);
                    return PyOps.IsTrue(left) ? Eval(b.Right, scope) : left;
                }
                if (b.Op == "or")
                {
                    object? left = Eval(b.Left, scope);
                    return PyOps.IsTrue(left) ? left : Eval(b.Right, scope);
                }
                object? l = Eval(b.Left, scope), r = Eval(b.Right, scope);
                return b.Op switch
                {
                    "+" => PyOps.Add(l, r),
                    "-" => PyOps.Subtract(l, r),
                    "*" => PyOps.Multiply(l, r),
                    "/" => PyOps.TrueDivide(l, r),
                    "//" => PyOps.FloorDivide(l, r),
                    "%" => l is string fmt ? Builtins.PercentFormat(fmt, r) : PyOps.Modulo(l, r),
                    "**" => PyOps.Power(l, r),
                    "~" => Concat(PyOps.Str(l), PyOps.Str(r)),
                    _ => throw new InvalidOperationException(b.Op),
                };
            }
            case CompareExpr c:
            {
                object? left = Eval(c.First, scope);
                foreach (var (op, operandExpr) in c.Rest)
                {
                    object? right = Eval(operandExpr, scope);
                    bool ok = op switch
                    {
                        "==" => PyOps.PyEquals(left, right),
                        "!=" => !PyOps.PyEquals(left, right),
                        "<" => PyOps.Compare(left, right, op) < 0,
                        ">" => PyOps.Compare(left, right, op) > 0,
                        "<=" => PyOps.Compare(left, right, op) <= 0,
                        ">=" => PyOps.Compare(left, right, op) >= 0,
                        "in" => PyOps.Contains(right, left),
                        "not in" => !PyOps.Contains(right, left),
                        _ => throw new InvalidOperationException(op),
                    };
                    if (!ok) return false;
                    left = right;
                }
                return true;
            }
            case ConditionalExpr c:
                if (PyOps.IsTrue(Eval(c.Test, scope))) return Eval(c.Then, scope);
                return c.Else != null ? Eval(c.Else, scope) : Undefined.Plain;
            default:
                throw new InvalidOperationException("unknown expression " + expr.GetType().Name);
        }
    }

    private static string Concat(string a, string b)
    {
        PyOps.WillMake((long)a.Length + b.Length);
        return a + b;
    }

    private (List<object?>, Dictionary<string, object?>) EvalArgs(Arguments a, Scope scope)
    {
        var args = a.Positional.Select(p => Eval(p, scope)).ToList();
        var kwargs = new Dictionary<string, object?>(StringComparer.Ordinal);
        foreach (var (name, value) in a.Keyword) kwargs[name] = Eval(value, scope);
        return (args, kwargs);
    }

    private object? ApplyFilter(string name, object? value, Arguments a, Scope scope)
    {
        var (args, kwargs) = EvalArgs(a, scope);
        return Filters.Apply(name, value, args, kwargs);
    }
}
