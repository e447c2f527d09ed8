using Microsoft.ML;

namespace MlPipelines.Pipelines.Transforms;

/// <summary>
/// What one of the LLaMA transforms computes from a text column: its output columns, and the values
/// of those columns for a batch of rows. The data view around it handles laziness and batching.
/// </summary>
internal interface IRowComputation
{
    /// <summary>The text column read.</summary>
    string InputColumn { get; }

    /// <summary>The columns added (name and type).</summary>
    IReadOnlyList<DataViewSchema.DetachedColumn> OutputColumns { get; }

    /// <summary>How many rows are computed together (1 = row by row).</summary>
    int BatchSize { get; }

    /// <summary>
    /// Computes the output values for <paramref name="texts"/> (rows at <paramref name="positions"/>):
    /// <c>results[column][row]</c>, each value of the column's .NET type (e.g. VBuffer&lt;float&gt;).
    /// </summary>
    void Compute(IReadOnlyList<string> texts, IReadOnlyList<long> positions, object[][] results);
}
