using Microsoft.ML;
using System.Text.Json.Serialization;
using Microsoft.ML.Data;
using MlPipelines.ManagedEngine.Parity;
using MlPipelines.OnnxEngine;

namespace MlPipelines.Pipelines.Transforms;

/// <summary>Settings of the parity transform.</summary>
public sealed record LlamaParityOptions
{
    /// <summary>
    /// The prompt column. Named by the catalog method's arguments (<c>CompareLlamaEngines(reference, candidate, inputColumnName, options)</c>), the one place columns are named, and
    /// recorded here so a saved pipeline keeps it.
    /// </summary>
    [JsonInclude]
    public string InputColumn { get; internal init; } = "";

    /// <summary>Prefix of the added columns (default <c>Parity</c>: ParityMaxAbsLogitDiff, ...).</summary>
    public string ColumnPrefix { get; init; } = "Parity";

    /// <summary>Steps and thresholds of the comparison (the verdict column uses the thresholds).</summary>
    public ParityOptions Parity { get; init; } = new() { Steps = 32 };
}

/// <summary>Estimator of <see cref="LlamaParityTransformer"/>.</summary>
public sealed class LlamaParityEstimator : LlamaEstimatorBase<LlamaParityTransformer>
{
    private readonly LlamaModelReference _reference, _candidate;
    private readonly LlamaParityOptions _options;

    internal LlamaParityEstimator(LlamaModelReference reference, LlamaModelReference candidate, LlamaParityOptions options)
    {
        _reference = reference ?? throw new ArgumentNullException(nameof(reference));
        _candidate = candidate ?? throw new ArgumentNullException(nameof(candidate));
        _options = options ?? throw new ArgumentNullException(nameof(options));
        options.Parity.Validate();
    }

    private protected override LlamaParityTransformer Create() => new(_reference, _candidate, _options);
}

/// <summary>
/// Runs the parity harness on every row's prompt and appends its figures as columns:
/// <c>{prefix}MaxAbsLogitDiff</c>, <c>MeanAbsLogitDiff</c>, <c>Top1Agreement</c> (Double),
/// <c>GreedyIdentical</c> (Boolean), <c>FirstDivergence</c> (Int32, -1 when identical),
/// <c>EmbeddingCosine</c> (Double) and <c>Passed</c> (Boolean, against the options' thresholds).
/// </summary>
public sealed class LlamaParityTransformer : LlamaTransformerBase
{
    private readonly Lazy<RowComputation> _computation;

    internal LlamaParityTransformer(LlamaModelReference reference, LlamaModelReference candidate, LlamaParityOptions options)
        : base(reference, options.InputColumn)
    {
        Candidate = candidate ?? throw new ArgumentNullException(nameof(candidate));
        Options = options;
        options.Parity.Validate();
        _computation = new Lazy<RowComputation>(() => new RowComputation(this));
    }

    /// <summary>The model compared with <see cref="LlamaTransformerBase.Model"/>.</summary>
    public LlamaModelReference Candidate { get; }

    /// <summary>The settings.</summary>
    public LlamaParityOptions Options { get; }

    internal override IRowComputation Computation => _computation.Value;

    internal override StageSettings Settings => StageSettings.Of(this, Options) with { Candidate = Candidate };

    private sealed class RowComputation : IRowComputation
    {
        private readonly LoadedModel _a, _b;
        private readonly LlamaParityTransformer _owner;

        public RowComputation(LlamaParityTransformer owner)
        {
            _owner = owner;
            _a = owner.Model.Open();
            _b = owner.Candidate.Open();
            string p = owner.Options.ColumnPrefix;
            OutputColumns =
            [
                new(p + "MaxAbsLogitDiff", NumberDataViewType.Double),
                new(p + "MeanAbsLogitDiff", NumberDataViewType.Double),
                new(p + "Top1Agreement", NumberDataViewType.Double),
                new(p + "GreedyIdentical", BooleanDataViewType.Instance),
                new(p + "FirstDivergence", NumberDataViewType.Int32),
                new(p + "EmbeddingCosine", NumberDataViewType.Double),
                new(p + "Passed", BooleanDataViewType.Instance),
            ];
        }

        public string InputColumn => _owner.InputColumn;

        public IReadOnlyList<DataViewSchema.DetachedColumn> OutputColumns { get; }

        public int BatchSize => 1;

        public void Compute(IReadOnlyList<string> texts, IReadOnlyList<long> positions, object[][] results)
        {
            for (int i = 0; i < texts.Count; i++)
            {
                ParityReport report = ParityHarness.Compare(_a.Model, _b.Model, _a.Tokenizer, [texts[i]], _owner.Options.Parity);
                PromptParity row = report.Prompts[0];
                results[0][i] = row.MaxAbsLogitDiff;
                results[1][i] = row.MeanAbsLogitDiff;
                results[2][i] = row.Top1Agreement;
                results[3][i] = row.Continuation.Identical;
                results[4][i] = row.Continuation.FirstDivergence ?? -1;
                results[5][i] = row.EmbeddingCosine;
                results[6][i] = report.Passed;
            }
        }
    }
}
