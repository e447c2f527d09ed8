using Microsoft.ML;

namespace MlPipelines.Pipelines.Transforms;

/// <summary>
/// The lazy output of a LLaMA transform: the input's columns plus the computed ones. Nothing is
/// computed until a cursor asks for a computed column's value, and then only for the batch of rows
/// around the current one; every cursor has its own state, so cursors may run on different threads.
/// </summary>
internal sealed class LlamaDataView : IDataView
{
    private readonly IDataView _input;
    private readonly IRowComputation _computation;

    public LlamaDataView(IDataView input, IRowComputation computation)
    {
        _input = input;
        _computation = computation;
        Schema = BuildSchema(input.Schema, computation);
    }

    public DataViewSchema Schema { get; }

    // Batching reads ahead with a second cursor, which must see the rows in the same order.
    public bool CanShuffle => false;

    public long? GetRowCount() => _input.GetRowCount();

    public static DataViewSchema BuildSchema(DataViewSchema input, IRowComputation computation)
    {
        SchemaChecks.RequireText(input, computation.InputColumn);
        var builder = new DataViewSchema.Builder();
        builder.AddColumns(input);
        foreach (var column in computation.OutputColumns)
            builder.AddColumn(column.Name, column.Type, column.Annotations);
        return builder.ToSchema();
    }

    public DataViewRowCursor GetRowCursor(IEnumerable<DataViewSchema.Column> columnsNeeded, Random? rand = null)
    {
        var needed = columnsNeeded.Select(c => c.Index).ToHashSet();
        int inputCount = _input.Schema.Count;
        bool computing = needed.Any(i => i >= inputCount);
        var inputColumns = needed.Where(i => i < inputCount).Select(i => _input.Schema[i]).ToList();
        if (computing)
            inputColumns.Add(_input.Schema[_computation.InputColumn]);
        DataViewRowCursor cursor = _input.GetRowCursor(inputColumns.DistinctBy(c => c.Index));
        return new LlamaCursor(this, cursor, needed, computing ? _input : null, _computation);
    }

    // One cursor, whatever n is (the IDataView contract allows fewer than asked). The work a row needs already runs
    // in parallel inside the engine (the managed engine's threads, ONNX Runtime's intra-op threads, and rows of a batch
    // side by side), so splitting rows across cursors would only make the cursors compete for the same cores, and the
    // batch read-ahead needs rows in order. Callers wanting parallel cursors may still open several with GetRowCursor:
    // each has its own state and may run on its own thread.
    public DataViewRowCursor[] GetRowCursorSet(IEnumerable<DataViewSchema.Column> columnsNeeded, int n, Random? rand = null) =>
        [GetRowCursor(columnsNeeded, rand)];
}
