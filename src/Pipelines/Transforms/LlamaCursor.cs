using Microsoft.ML;
using Microsoft.ML.Data;

namespace MlPipelines.Pipelines.Transforms;

/// <summary>
/// A cursor over <see cref="LlamaDataView"/>. Input columns pass through; computed columns are filled
/// batch by batch when first read: the batch starting at the current row is gathered with a
/// read-ahead cursor over the input (created only when something is computed).
/// </summary>
internal sealed class LlamaCursor : DataViewRowCursor
{
    private readonly LlamaDataView _view;
    private readonly DataViewRowCursor _input;
    private readonly HashSet<int> _active;
    private readonly IDataView? _source;
    private readonly IRowComputation _computation;
    private readonly int _inputCount;

    private DataViewRowCursor? _lookahead;
    private ValueGetter<ReadOnlyMemory<char>>? _lookaheadText;
    private object[][] _results = [];
    private long _batchStart = -1;
    private int _batchCount;

    public LlamaCursor(LlamaDataView view, DataViewRowCursor input, HashSet<int> active, IDataView? source, IRowComputation computation)
    {
        _view = view;
        _input = input;
        _active = active;
        _source = source;
        _computation = computation;
        _inputCount = input.Schema.Count;
    }

    public override DataViewSchema Schema => _view.Schema;
    public override long Position => _input.Position;
    public override long Batch => _input.Batch;

    public override bool MoveNext() => _input.MoveNext();

    public override ValueGetter<DataViewRowId> GetIdGetter() => _input.GetIdGetter();

    public override bool IsColumnActive(DataViewSchema.Column column) => _active.Contains(column.Index);

    public override ValueGetter<TValue> GetGetter<TValue>(DataViewSchema.Column column)
    {
        if (column.Index < _inputCount)
            return _input.GetGetter<TValue>(_input.Schema[column.Index]);
        if (!_active.Contains(column.Index))
            throw new InvalidOperationException($"Column '{column.Name}' was not requested when the cursor was created.");
        int k = column.Index - _inputCount;
        Type expected = column.Type.RawType;
        if (typeof(TValue) != expected)
            throw new InvalidOperationException($"Column '{column.Name}' holds {expected.Name} values, not {typeof(TValue).Name}.");
        return (ref TValue value) => value = (TValue)Current(k);
    }

    private object Current(int column)
    {
        long position = _input.Position;
        if (position < 0)
            throw new InvalidOperationException("The cursor is not on a row: call MoveNext first.");
        if (_batchStart < 0 || position < _batchStart || position >= _batchStart + _batchCount)
            ComputeBatchAt(position);
        return _results[column][position - _batchStart];
    }

    private void ComputeBatchAt(long position)
    {
        if (_lookahead is null)
        {
            _lookahead = _source!.GetRowCursor([_source.Schema[_computation.InputColumn]]);
            _lookaheadText = _lookahead.GetGetter<ReadOnlyMemory<char>>(_source.Schema[_computation.InputColumn]);
        }
        while (_lookahead.Position < position)
            if (!_lookahead.MoveNext())
                throw new InvalidOperationException("The input ended early while reading ahead: the input data view is not repeatable.");

        var texts = new List<string>(_computation.BatchSize);
        var positions = new List<long>(_computation.BatchSize);
        ReadOnlyMemory<char> text = default;
        do
        {
            _lookaheadText!(ref text);
            texts.Add(text.ToString());
            positions.Add(_lookahead.Position);
        } while (texts.Count < _computation.BatchSize && _lookahead.MoveNext());

        var results = new object[_computation.OutputColumns.Count][];
        for (int c = 0; c < results.Length; c++) results[c] = new object[texts.Count];
        _computation.Compute(texts, positions, results);
        _results = results;
        _batchStart = position;
        _batchCount = texts.Count;
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            _lookahead?.Dispose();
            _input.Dispose();
        }
        base.Dispose(disposing);
    }
}
