namespace MlPipelines.ChatTemplates.Syntax;

internal abstract record Node(int Line, int Column);

// ------------------------------------------------------------------ expressions

internal abstract record Expr(int Line, int Column) : Node(Line, Column);

internal sealed record LiteralExpr(object? Value, int Line, int Column) : Expr(Line, Column);

internal sealed record NameExpr(string Name, int Line, int Column) : Expr(Line, Column);

internal sealed record ListExpr(IReadOnlyList<Expr> Items, bool IsTuple, int Line, int Column) : Expr(Line, Column);

internal sealed record DictExpr(IReadOnlyList<(Expr Key, Expr Value)> Pairs, int Line, int Column) : Expr(Line, Column);

internal sealed record GetAttrExpr(Expr Target, string Attribute, int Line, int Column) : Expr(Line, Column);

internal sealed record GetItemExpr(Expr Target, Expr Key, int Line, int Column) : Expr(Line, Column);

internal sealed record SliceExpr(Expr Target, Expr? Start, Expr? Stop, Expr? Step, int Line, int Column) : Expr(Line, Column);

internal sealed record Arguments(IReadOnlyList<Expr> Positional, IReadOnlyList<(string Name, Expr Value)> Keyword)
{
    public static readonly Arguments None = new([], []);
}

internal sealed record CallExpr(Expr Callee, Arguments Args, int Line, int Column) : Expr(Line, Column);

internal sealed record FilterExpr(Expr Target, string Name, Arguments Args, int Line, int Column) : Expr(Line, Column);

internal sealed record TestExpr(Expr Target, string Name, Arguments Args, bool Negated, int Line, int Column) : Expr(Line, Column);

internal sealed record UnaryExpr(string Op, Expr Operand, int Line, int Column) : Expr(Line, Column);

internal sealed record BinaryExpr(string Op, Expr Left, Expr Right, int Line, int Column) : Expr(Line, Column);

internal sealed record CompareExpr(Expr First, IReadOnlyList<(string Op, Expr Operand)> Rest, int Line, int Column) : Expr(Line, Column);

internal sealed record ConditionalExpr(Expr Test, Expr Then, Expr? Else, int Line, int Column) : Expr(Line, Column);

// ------------------------------------------------------------------ statements

internal abstract record Stmt(int Line, int Column) : Node(Line, Column);

internal sealed record TextStmt(string Text, int Line, int Column) : Stmt(Line, Column);

internal sealed record OutputStmt(Expr Value, int Line, int Column) : Stmt(Line, Column);

internal sealed record IfStmt(IReadOnlyList<(Expr Test, IReadOnlyList<Stmt> Body)> Branches, IReadOnlyList<Stmt>? Else, int Line, int Column)
    : Stmt(Line, Column);

internal sealed record ForStmt(IReadOnlyList<string> Targets, bool TupleTarget, Expr Iterable, Expr? Filter, IReadOnlyList<Stmt> Body,
    IReadOnlyList<Stmt>? Else, int Line, int Column) : Stmt(Line, Column);

/// <summary>An assignment target: a name, <c>ns.attr</c>, or a tuple of names.</summary>
internal sealed record SetTarget(IReadOnlyList<string> Names, string? Attribute, bool IsTuple);

internal sealed record SetStmt(SetTarget Target, Expr Value, int Line, int Column) : Stmt(Line, Column);

internal sealed record SetBlockStmt(SetTarget Target, IReadOnlyList<(string Name, Arguments Args, int Line, int Column)> Filters,
    IReadOnlyList<Stmt> Body, int Line, int Column) : Stmt(Line, Column);

internal sealed record MacroStmt(string Name, IReadOnlyList<(string Name, Expr? Default)> Parameters, IReadOnlyList<Stmt> Body, int Line, int Column)
    : Stmt(Line, Column);

internal sealed record FilterBlockStmt(IReadOnlyList<(string Name, Arguments Args, int Line, int Column)> Filters, IReadOnlyList<Stmt> Body,
    int Line, int Column) : Stmt(Line, Column);

internal sealed record BreakStmt(int Line, int Column) : Stmt(Line, Column);

internal sealed record ContinueStmt(int Line, int Column) : Stmt(Line, Column);
