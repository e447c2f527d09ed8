using Microsoft.ML;
using System.Text.Json.Serialization;
using Microsoft.ML.Data;

namespace MlPipelines.Pipelines.Transforms;

/// <summary>Settings of the tokenize transform.</summary>
public sealed record LlamaTokenizeOptions
{
    /// <summary>
    /// The text column to tokenize. Named by the catalog method's arguments (<c>TokenizeWithLlama(model, outputColumnName, inputColumnName)</c>), the one place columns are named, and
    /// recorded here so a saved pipeline keeps it.
    /// </summary>
    [JsonInclude]
    public string InputColumn { get; internal init; } = "";

    /// <summary>The output column of token ids (a variable-length vector of <see cref="TokenIdType"/>). Named by the catalog method's arguments, like <see cref="InputColumn"/>.</summary>
    [JsonInclude]
    public string OutputColumn { get; internal init; } = "";

    /// <summary>
    /// The ids' type: <see cref="DataKind.Int32"/> (default) or <see cref="DataKind.Int64"/>, which ONNX models
    /// downstream (<c>ApplyOnnxModel</c> with <c>input_ids</c>) take.
    /// </summary>
    public DataKind TokenIdType { get; init; } = DataKind.Int32;

    /// <summary>An optional Int32 column with the number of tokens.</summary>
    public string? TokenCountColumn { get; init; }

    /// <summary>Put BOS first (default true).</summary>
    public bool AddBos { get; init; } = true;

    /// <summary>Put EOS last (default false).</summary>
    public bool AddEos { get; init; }
}

/// <summary>Estimator of <see cref="LlamaTokenizeTransformer"/>.</summary>
public sealed class LlamaTokenizeEstimator : LlamaEstimatorBase<LlamaTokenizeTransformer>
{
    private readonly LlamaModelReference _model;
    private readonly LlamaTokenizeOptions _options;

    internal LlamaTokenizeEstimator(LlamaModelReference model, LlamaTokenizeOptions options)
    {
        _model = model ?? throw new ArgumentNullException(nameof(model));
        _options = options ?? throw new ArgumentNullException(nameof(options));
        LlamaTokenizeTransformer.CheckTokenIdType(options);
    }

    private protected override LlamaTokenizeTransformer Create() => new(_model, _options);
}

/// <summary>Text → LLaMA token ids (and optionally their count), with the model's own tokenizer.</summary>
public sealed class LlamaTokenizeTransformer : LlamaTransformerBase
{
    private readonly Lazy<RowComputation> _computation;

    internal LlamaTokenizeTransformer(LlamaModelReference model, LlamaTokenizeOptions options) : base(model, options.InputColumn)
    {
        Options = options;
        ArgumentException.ThrowIfNullOrEmpty(options.OutputColumn);
        CheckTokenIdType(options);
        _computation = new Lazy<RowComputation>(() => new RowComputation(this));
    }

    internal static void CheckTokenIdType(LlamaTokenizeOptions options)
    {
        if (options.TokenIdType is not (DataKind.Int32 or DataKind.Int64))
            throw new ArgumentOutOfRangeException(nameof(options), options.TokenIdType,
                $"{nameof(LlamaTokenizeOptions.TokenIdType)} must be Int32 or Int64.");
    }

    /// <summary>The settings.</summary>
    public LlamaTokenizeOptions Options { get; }

    internal override IRowComputation Computation => _computation.Value;

    internal override StageSettings Settings => StageSettings.Of(this, Options);

    private sealed class RowComputation(LlamaTokenizeTransformer owner) : IRowComputation
    {
        private readonly MlPipelines.ManagedEngine.Tokenization.PieceTokenizer _tokenizer = owner.Model.Open().Tokenizer;

        public string InputColumn => owner.InputColumn;

        public IReadOnlyList<DataViewSchema.DetachedColumn> OutputColumns { get; } = Columns(owner.Options);

        public int BatchSize => 1;

        public void Compute(IReadOnlyList<string> texts, IReadOnlyList<long> positions, object[][] results)
        {
            for (int i = 0; i < texts.Count; i++)
            {
                int[] ids = _tokenizer.Encode(texts[i], owner.Options.AddBos, owner.Options.AddEos);
                results[0][i] = owner.Options.TokenIdType == DataKind.Int64
                    ? new VBuffer<long>(ids.Length, Array.ConvertAll(ids, id => (long)id))
                    : new VBuffer<int>(ids.Length, ids);
                if (results.Length > 1) results[1][i] = ids.Length;
            }
        }

        private static DataViewSchema.DetachedColumn[] Columns(LlamaTokenizeOptions o)
        {
            var ids = new VectorDataViewType(o.TokenIdType == DataKind.Int64 ? NumberDataViewType.Int64 : NumberDataViewType.Int32);
            return o.TokenCountColumn is { Length: > 0 } count
                ? [new(o.OutputColumn, ids), new(count, NumberDataViewType.Int32)]
                : [new(o.OutputColumn, ids)];
        }
    }
}
