using Microsoft.ML.Data;
using MlPipelines.ManagedEngine.Embeddings;
using MlPipelines.Pipelines.Transforms;

// In ML.NET's own namespace, as ML.NET's extension packages do (OnnxCatalog, TorchSharpCatalog): `using Microsoft.ML;`
// is enough to find the methods on `mlContext.Transforms.Text`.
namespace Microsoft.ML;

/// <summary>
/// The LLaMA transforms on ML.NET's text catalog: <c>mlContext.Transforms.Text.TokenizeWithLlama(...)</c>,
/// <c>EmbedWithLlama(...)</c>, <c>GenerateWithLlama(...)</c>, <c>CompareLlamaEngines(...)</c>. Each takes the model
/// through a <see cref="LlamaModelReference"/>, which selects the engine. Columns are named by the arguments only, as
/// in ML.NET's own catalog methods: an input column left out defaults to the output column's name.
/// </summary>
public static class LlamaCatalogExtensions
{
    /// <summary>
    /// Text → token ids (a variable-length Int32 vector, or Int64 with <paramref name="tokenIdType"/> for ONNX models
    /// downstream), optionally with a token count column.
    /// </summary>
    public static LlamaTokenizeEstimator TokenizeWithLlama(this TransformsCatalog.TextTransforms catalog,
        LlamaModelReference model, string outputColumnName, string? inputColumnName = null,
        string? tokenCountColumnName = null, bool addBos = true, bool addEos = false, DataKind tokenIdType = DataKind.Int32)
    {
        ArgumentNullException.ThrowIfNull(catalog);
        ArgumentException.ThrowIfNullOrEmpty(outputColumnName);
        return new LlamaTokenizeEstimator(model, new LlamaTokenizeOptions
        {
            OutputColumn = outputColumnName,
            InputColumn = inputColumnName ?? outputColumnName,
            TokenCountColumn = tokenCountColumnName,
            AddBos = addBos,
            AddEos = addEos,
            TokenIdType = tokenIdType,
        });
    }

    /// <summary>Text → a fixed-length embedding (a Single vector of the model's hidden size).</summary>
    public static LlamaEmbedEstimator EmbedWithLlama(this TransformsCatalog.TextTransforms catalog,
        LlamaModelReference model, string outputColumnName, string? inputColumnName = null, EmbeddingOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(catalog);
        ArgumentException.ThrowIfNullOrEmpty(outputColumnName);
        return new LlamaEmbedEstimator(model, new LlamaEmbedOptions
        {
            OutputColumn = outputColumnName,
            InputColumn = inputColumnName ?? outputColumnName,
            Embedding = options ?? new EmbeddingOptions(),
        });
    }

    /// <summary>
    /// Prompt → completion text. The input column defaults to <paramref name="outputColumnName"/> (the completion then
    /// replaces the prompt); <paramref name="options"/> carries the other settings (greedy, 64 new tokens by default).
    /// </summary>
    public static LlamaGenerateEstimator GenerateWithLlama(this TransformsCatalog.TextTransforms catalog,
        LlamaModelReference model, string outputColumnName, string? inputColumnName = null, LlamaGenerateOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(catalog);
        ArgumentException.ThrowIfNullOrEmpty(outputColumnName);
        options = (options ?? new LlamaGenerateOptions()) with { InputColumn = inputColumnName ?? outputColumnName, OutputColumn = outputColumnName };
        if (options.Seed is null && !options.RandomSeed && MLContextSeed.Draw(catalog) is { } seed)
            options = options with { Seed = seed };
        return new LlamaGenerateEstimator(model, options);
    }

    /// <summary>
    /// Prompt → parity figures between two models (e.g. the managed engine and its ONNX export):
    /// logit differences, top-1 agreement, greedy agreement, embedding cosine and a verdict per row.
    /// </summary>
    public static LlamaParityEstimator CompareLlamaEngines(this TransformsCatalog.TextTransforms catalog,
        LlamaModelReference reference, LlamaModelReference candidate, string inputColumnName, LlamaParityOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(catalog);
        ArgumentException.ThrowIfNullOrEmpty(inputColumnName);
        options = (options ?? new LlamaParityOptions()) with { InputColumn = inputColumnName };
        return new LlamaParityEstimator(reference, candidate, options);
    }
}
