using Microsoft.ML;
using Microsoft.ML.Data;

namespace MlPipelines.Pipelines.Transforms;

/// <summary>Input-column checks with ML.NET's own wording, so errors read like any other transform's.</summary>
internal static class SchemaChecks
{
    public static void RequireText(DataViewSchema schema, string column)
    {
        DataViewSchema.Column? found = schema.GetColumnOrNull(column);
        if (found is null)
            throw new ArgumentOutOfRangeException(nameof(schema), $"Could not find input column '{column}'.");
        if (found.Value.Type is not TextDataViewType)
            throw new ArgumentOutOfRangeException(nameof(schema), $"Schema mismatch for input column '{column}': expected String, got {found.Value.Type}.");
    }

    public static void RequireText(SchemaShape schema, string column)
    {
        SchemaShape.Column found = schema.LastOrDefault(c => c.Name == column);
        if (found.Name is null)
            throw new ArgumentOutOfRangeException(nameof(schema), $"Could not find input column '{column}'.");
        if (found.Kind != SchemaShape.Column.VectorKind.Scalar || found.ItemType is not TextDataViewType)
            throw new ArgumentOutOfRangeException(nameof(schema),
                $"Schema mismatch for input column '{column}': expected String, got {(found.Kind == SchemaShape.Column.VectorKind.Scalar ? "" : "Vector<")}{found.ItemType}{(found.Kind == SchemaShape.Column.VectorKind.Scalar ? "" : ">")}.");
    }

    /// <summary>The input shape with the transform's output columns added (replacing any of the same name).</summary>
    public static SchemaShape WithColumns(SchemaShape input, IEnumerable<DataViewSchema.DetachedColumn> added)
    {
        var addedShape = added.Select(ShapeOf).ToList();
        var names = addedShape.Select(c => c.Name).ToHashSet(StringComparer.Ordinal);
        return new SchemaShape(input.Where(c => !names.Contains(c.Name)).Concat(addedShape));
    }

    /// <summary>The shape of a schema (what ML.NET's internal SchemaShape.Create does).</summary>
    public static SchemaShape ToShape(DataViewSchema schema) =>
        new(schema.Where(c => !c.IsHidden).Select(c => ShapeOf(new DataViewSchema.DetachedColumn(c))));

    // SchemaShape.Column has no public constructor (ML.NET builds them internally), so an estimator
    // outside ML.NET can only describe its new columns through the internal one, found by reflection.
    private static readonly System.Reflection.ConstructorInfo ColumnConstructor =
        typeof(SchemaShape.Column).GetConstructors(System.Reflection.BindingFlags.Instance | System.Reflection.BindingFlags.NonPublic)
            .SingleOrDefault(c => c.GetParameters().Length == 5)
        ?? throw new PlatformNotSupportedException("This Microsoft.ML version has no SchemaShape.Column(name, kind, type, isKey, annotations) constructor.");

    private static SchemaShape.Column ShapeOf(DataViewSchema.DetachedColumn column)
    {
        var (kind, itemType) = column.Type switch
        {
            VectorDataViewType { IsKnownSize: true } v => (SchemaShape.Column.VectorKind.Vector, v.ItemType),
            VectorDataViewType v => (SchemaShape.Column.VectorKind.VariableVector, v.ItemType),
            var scalar => (SchemaShape.Column.VectorKind.Scalar, scalar),
        };
        return (SchemaShape.Column)ColumnConstructor.Invoke([column.Name, kind, itemType, false, null]);
    }
}
