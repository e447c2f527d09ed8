using Microsoft.ML;
using Microsoft.ML.Data;

namespace MlPipelines.Pipelines.Transforms;

/// <summary>
/// What the LLaMA transformers share: a lazy <see cref="IDataView"/> over the input with the computed
/// columns added, and the checks of the input schema. Save them with <see cref="LlamaPipelineModel"/>:
/// ML.NET's own <c>mlContext.Model.Save</c> cannot load transformer classes from outside ML.NET.
/// </summary>
public abstract class LlamaTransformerBase : ITransformer
{
    private protected LlamaTransformerBase(LlamaModelReference model, string inputColumn)
    {
        Model = model ?? throw new ArgumentNullException(nameof(model));
        ArgumentException.ThrowIfNullOrEmpty(inputColumn);
        InputColumn = inputColumn;
    }

    /// <summary>The model the transform runs.</summary>
    public LlamaModelReference Model { get; }

    /// <summary>The text column read.</summary>
    public string InputColumn { get; }

    /// <summary>
    /// True: besides batched cursors (<see cref="Transform"/>), a transform maps single rows, so
    /// <c>mlContext.Model.CreatePredictionEngine</c> works on pipelines that contain it.
    /// </summary>
    public bool IsRowToRowMapper => true;

    internal abstract IRowComputation Computation { get; }

    /// <summary>The transform's settings, for <see cref="LlamaPipelineModel"/> persistence.</summary>
    internal abstract StageSettings Settings { get; }

    /// <inheritdoc />
    public DataViewSchema GetOutputSchema(DataViewSchema inputSchema)
    {
        ArgumentNullException.ThrowIfNull(inputSchema);
        return LlamaDataView.BuildSchema(inputSchema, Computation);
    }

    /// <inheritdoc />
    public IDataView Transform(IDataView input)
    {
        ArgumentNullException.ThrowIfNull(input);
        return new LlamaDataView(input, Computation);
    }

    /// <inheritdoc />
    public IRowToRowMapper GetRowToRowMapper(DataViewSchema inputSchema)
    {
        ArgumentNullException.ThrowIfNull(inputSchema);
        return new LlamaRowMapper(inputSchema, Computation);
    }

    void ICanSaveModel.Save(ModelSaveContext ctx) =>
        throw new NotSupportedException(
            $"{GetType().Name} cannot be saved with mlContext.Model.Save (ML.NET cannot load transformers defined outside it); " +
            "save the pipeline with LlamaPipelineModel.Save instead.");
}

/// <summary>What an estimator of a LLaMA transform shares: schema checks at Fit and GetOutputSchema.</summary>
public abstract class LlamaEstimatorBase<TTransformer> : IEstimator<TTransformer> where TTransformer : LlamaTransformerBase
{
    /// <summary>Creates the transformer (no data is needed to fit these transforms).</summary>
    private protected abstract TTransformer Create();

    /// <summary>
    /// Checks the input column and opens the model with its tokenizer, so a missing model or a tokenizer of another
    /// vocabulary is an error here rather than while rows are read. No data is needed to fit these transforms.
    /// </summary>
    public TTransformer Fit(IDataView input)
    {
        ArgumentNullException.ThrowIfNull(input);
        TTransformer transformer = Create();
        transformer.GetOutputSchema(input.Schema);   // checks the input column
        transformer.Model.Open();                    // loaded once per process, shared with the transform
        _ = transformer.Computation;                 // what the rows need beyond the model (a chat template) is checked here too
        return transformer;
    }

    /// <inheritdoc />
    public SchemaShape GetOutputSchema(SchemaShape inputSchema)
    {
        ArgumentNullException.ThrowIfNull(inputSchema);
        TTransformer transformer = Create();
        SchemaChecks.RequireText(inputSchema, transformer.InputColumn);
        return SchemaChecks.WithColumns(inputSchema, transformer.Computation.OutputColumns);
    }
}
