using Microsoft.ML;
using Microsoft.ML.Data;
using MlPipelines.ManagedEngine.Embeddings;

namespace MlPipelines.Pipelines.Transforms;

/// <summary>
/// The LLaMA transforms on ML.NET's text catalog: <c>mlContext.Transforms.Text.TokenizeWithLlama(...)</c>,
/// <c>EmbedWithLlama(...)</c>, <c>GenerateWithLlama(...)</c>. Each takes the model through a
/// <see cref="LlamaModelReference"/>, which selects the engine.
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
        return new LlamaEmbedEstimator(model, new LlamaEmbedOptions
        {
            OutputColumn = outputColumnName,
            InputColumn = inputColumnName ?? outputColumnName,
            Embedding = options ?? new EmbeddingOptions(),
        });
    }

    /// <summary>
    /// Prompt → completion text. The columns are named here, as in every ML.NET catalog method: the input defaults to
    /// <paramref name="outputColumnName"/> (the completion then replaces the prompt), and <paramref name="options"/>
    /// carries the other settings; options naming other columns are an error rather than silently overridden.
    /// </summary>
    public static LlamaGenerateEstimator GenerateWithLlama(this TransformsCatalog.TextTransforms catalog,
        LlamaModelReference model, string outputColumnName, string? inputColumnName = null, LlamaGenerateOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(catalog);
        ArgumentException.ThrowIfNullOrEmpty(outputColumnName);
        inputColumnName ??= outputColumnName;
        if (options is not null && (options.InputColumn != inputColumnName || options.OutputColumn != outputColumnName))
            throw new ArgumentException(
                $"The options name the columns '{options.InputColumn}' → '{options.OutputColumn}' but the call names '{inputColumnName}' → " +
                $"'{outputColumnName}'; name them in one place (the call's arguments).", nameof(options));
        options = (options ?? new LlamaGenerateOptions { InputColumn = inputColumnName, OutputColumn = outputColumnName })
            with { InputColumn = inputColumnName, OutputColumn = outputColumnName };
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
        options = (options ?? new LlamaParityOptions { InputColumn = inputColumnName }) with { InputColumn = inputColumnName };
        return new LlamaParityEstimator(reference, candidate, options);
    }
}
