using Microsoft.ML;
using Microsoft.ML.Data;

namespace MlPipelines.Pipelines.Transforms;

/// <summary>
/// A LLaMA transform one row at a time, for <c>mlContext.Model.CreatePredictionEngine</c> and other single-row
/// consumers: the computed columns of a row are worked out when one of them is first read (the row alone, as a
/// batch of one) and kept until the input row changes. Cursors over a whole data view batch rows instead.
/// </summary>
internal sealed class LlamaRowMapper : IRowToRowMapper
{
    private readonly IRowComputation _computation;

    public LlamaRowMapper(DataViewSchema inputSchema, IRowComputation computation)
    {
        InputSchema = inputSchema;
        _computation = computation;
        OutputSchema = LlamaDataView.BuildSchema(inputSchema, computation);
    }

    public DataViewSchema InputSchema { get; }

    public DataViewSchema OutputSchema { get; }

    public IEnumerable<DataViewSchema.Column> GetDependencies(IEnumerable<DataViewSchema.Column> dependingColumns)
    {
        int inputCount = InputSchema.Count;
        var needed = new List<DataViewSchema.Column>();
        foreach (var column in dependingColumns)
        {
            if (column.Index < inputCount) needed.Add(InputSchema[column.Index]);
            else needed.Add(InputSchema[_computation.InputColumn]);
        }
        return needed.DistinctBy(c => c.Index);
    }

    public DataViewRow GetRow(DataViewRow input, IEnumerable<DataViewSchema.Column> activeColumns)
    {
        ArgumentNullException.ThrowIfNull(input);
        return new Row(this, input, activeColumns.Select(c => c.Index).ToHashSet());
    }

    private sealed class Row(LlamaRowMapper mapper, DataViewRow input, HashSet<int> active) : DataViewRow
    {
        private readonly ValueGetter<ReadOnlyMemory<char>>? _text =
            active.Any(i => i >= mapper.InputSchema.Count) ? input.GetGetter<ReadOnlyMemory<char>>(mapper.InputSchema[mapper._computation.InputColumn]) : null;
        private object[][] _results = [];
        private long _computedPosition = long.MinValue;
        private string? _computedText;

        public override DataViewSchema Schema => mapper.OutputSchema;
        public override long Position => input.Position;
        public override long Batch => input.Batch;
        public override ValueGetter<DataViewRowId> GetIdGetter() => input.GetIdGetter();
        public override bool IsColumnActive(DataViewSchema.Column column) => active.Contains(column.Index);

        public override ValueGetter<TValue> GetGetter<TValue>(DataViewSchema.Column column)
        {
            int inputCount = mapper.InputSchema.Count;
            if (column.Index < inputCount)
                return input.GetGetter<TValue>(input.Schema[column.Index]);
            if (!active.Contains(column.Index))
                throw new InvalidOperationException($"Column '{column.Name}' was not requested when the row was made.");
            if (typeof(TValue) != column.Type.RawType)
                throw new InvalidOperationException($"Column '{column.Name}' holds {column.Type.RawType.Name} values, not {typeof(TValue).Name}.");
            int k = column.Index - inputCount;
            return (ref TValue value) => value = (TValue)Current(k);
        }

        // A single-row consumer may reuse one input row for new values without moving its position (a prediction
        // engine does), so the text is compared as well.
        private object Current(int column)
        {
            ReadOnlyMemory<char> text = default;
            _text!(ref text);
            string current = text.ToString();
            if (_computedPosition != input.Position || _computedText != current)
            {
                var results = new object[mapper._computation.OutputColumns.Count][];
                for (int c = 0; c < results.Length; c++) results[c] = new object[1];
                mapper._computation.Compute([current], [Math.Max(0, input.Position)], results);
                (_results, _computedPosition, _computedText) = (results, input.Position, current);
            }
            return _results[column][0];
        }
    }
}
