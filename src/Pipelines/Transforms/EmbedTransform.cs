using Microsoft.ML;
using System.Text.Json.Serialization;
using Microsoft.ML.Data;
using MlPipelines.ManagedEngine.Embeddings;
using MlPipelines.OnnxEngine;

namespace MlPipelines.Pipelines.Transforms;

/// <summary>Settings of the embedding transform.</summary>
public sealed record LlamaEmbedOptions
{
    /// <summary>
    /// The text column to embed. Named by the catalog method's arguments (<c>EmbedWithLlama(model, outputColumnName, inputColumnName)</c>), the one place columns are named, and
    /// recorded here so a saved pipeline keeps it.
    /// </summary>
    [JsonInclude]
    public string InputColumn { get; internal init; } = "";

    /// <summary>The output column: a vector of Single of the model's hidden size. Named by the catalog method's arguments, like <see cref="InputColumn"/>.</summary>
    [JsonInclude]
    public string OutputColumn { get; internal init; } = "";

    /// <summary>Pooling, normalisation, truncation and batch size.</summary>
    public EmbeddingOptions Embedding { get; init; } = new();
}

/// <summary>Estimator of <see cref="LlamaEmbedTransformer"/>.</summary>
public sealed class LlamaEmbedEstimator : LlamaEstimatorBase<LlamaEmbedTransformer>
{
    private readonly LlamaModelReference _model;
    private readonly LlamaEmbedOptions _options;

    internal LlamaEmbedEstimator(LlamaModelReference model, LlamaEmbedOptions options)
    {
        _model = model ?? throw new ArgumentNullException(nameof(model));
        _options = options ?? throw new ArgumentNullException(nameof(options));
        options.Embedding.Validate();
    }

    private protected override LlamaEmbedTransformer Create() => new(_model, _options);
}

/// <summary>
/// Text → a fixed-length embedding pooled from the model's final hidden states. Rows are embedded
/// <see cref="EmbeddingOptions.BatchSize"/> at a time, the texts of a batch going through the engine together.
/// </summary>
public sealed class LlamaEmbedTransformer : LlamaTransformerBase
{
    private readonly Lazy<RowComputation> _computation;

    internal LlamaEmbedTransformer(LlamaModelReference model, LlamaEmbedOptions options) : base(model, options.InputColumn)
    {
        Options = options;
        ArgumentException.ThrowIfNullOrEmpty(options.OutputColumn);
        options.Embedding.Validate();
        _computation = new Lazy<RowComputation>(() => new RowComputation(this));
    }

    /// <summary>The settings.</summary>
    public LlamaEmbedOptions Options { get; }

    internal override IRowComputation Computation => _computation.Value;

    internal override StageSettings Settings => StageSettings.Of(this, Options);

    private sealed class RowComputation : IRowComputation
    {
        private readonly Embedder _embedder;

        public RowComputation(LlamaEmbedTransformer owner)
        {
            LoadedModel loaded = owner.Model.Open();
            _embedder = new Embedder(loaded.Model, loaded.Tokenizer, owner.Options.Embedding);
            InputColumn = owner.InputColumn;
            OutputColumns = [new(owner.Options.OutputColumn, new VectorDataViewType(NumberDataViewType.Single, _embedder.Dimension))];
        }

        public string InputColumn { get; }

        public IReadOnlyList<DataViewSchema.DetachedColumn> OutputColumns { get; }

        public int BatchSize => _embedder.Options.BatchSize;

        public void Compute(IReadOnlyList<string> texts, IReadOnlyList<long> positions, object[][] results)
        {
            int[][] tokens = texts.Select((text, i) => RowErrors.For(InputColumn, positions[i], () => _embedder.Tokenize(text))).ToArray();
            float[][] vectors = _embedder.EmbedTokens(tokens);
            for (int i = 0; i < vectors.Length; i++)
                results[0][i] = new VBuffer<float>(vectors[i].Length, vectors[i]);
        }
    }
}
