using MlPipelines.ManagedEngine.Loading;
using MlPipelines.ManagedEngine.Model;
using MlPipelines.ManagedEngine.Tokenization;

namespace MlPipelines.OnnxEngine;

/// <summary>Which engine runs a model.</summary>
public enum EngineKind
{
    /// <summary>The pure C# reference engine, on a checkpoint.</summary>
    Managed,

    /// <summary>ONNX Runtime, on an export directory (a checkpoint is exported once into the export cache).</summary>
    Onnx,
}

/// <summary>A loaded model, its tokenizer, and the resolved model it was loaded from. Disposing releases the model.</summary>
public sealed record LoadedModel(ILanguageModel Model, PieceTokenizer Tokenizer, ResolvedModel Source) : IDisposable
{
    /// <inheritdoc />
    public void Dispose() => Model.Dispose();
}

/// <summary>Opens models on either engine.</summary>
public static class LanguageModels
{
    /// <summary>
    /// Opens <paramref name="model"/> on <paramref name="engine"/> with its tokenizer (the one named when resolving, or
    /// the model's own). The ONNX engine runs an export directory as it is; any other model (llama2.c, Hugging Face,
    /// GGUF) is exported once into the export cache, keyed by the model's content identity, and run from there.
    /// </summary>
    /// <param name="model">The resolved model.</param>
    /// <param name="engine">The engine.</param>
    /// <param name="options">Threads, int8, execution provider (see <see cref="EngineOptions.Validate"/>).</param>
    /// <param name="exportCacheDirectory">Where exports are cached (default: <see cref="OnnxExportCache.DefaultDirectory"/>).</param>
    /// <exception cref="ArgumentException">A setting the engine cannot honour, or a tokenizer whose vocabulary size differs from the model's.</exception>
    public static LoadedModel Open(ResolvedModel model, EngineKind engine, EngineOptions? options = null, string? exportCacheDirectory = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        options ??= new EngineOptions();
        options.Validate(engine);
        ILanguageModel loaded = engine == EngineKind.Managed
            ? ManagedModelLoader.LoadModel(model, options.Threads, options.Quantize, options.KvCache)
            : OnnxLanguageModel.Load(
                model.Format == ModelFormat.OnnxExport ? model.Path : OnnxExportCache.GetOrExport(model, exportCacheDirectory, out _), options);
        try
        {
            PieceTokenizer tokenizer = model.TokenizerFile is null && loaded is OnnxLanguageModel onnx ? onnx.LoadTokenizer() : model.LoadTokenizer();
            return new LoadedModel(loaded, Matching(tokenizer, loaded.Config, model), model);
        }
        catch
        {
            loaded.Dispose();
            throw;
        }
    }

    /// <summary>Finds <paramref name="model"/> (null: the default model) and its tokenizer, then opens it (see <see cref="Open(ResolvedModel, EngineKind, EngineOptions?, string?)"/>).</summary>
    public static LoadedModel Open(string? model, string? tokenizer, EngineKind engine, EngineOptions? options = null, string? exportCacheDirectory = null) =>
        Open(ResolvedModel.Resolve(model, tokenizer), engine, options, exportCacheDirectory);

    // A tokenizer of another vocabulary would tokenize and embed silently with the wrong ids (or fail later, deep in a
    // forward pass), so the sizes must agree exactly, in either direction.
    private static PieceTokenizer Matching(PieceTokenizer tokenizer, ModelConfig config, ResolvedModel model) =>
        tokenizer.VocabularySize == config.VocabSize
            ? tokenizer
            : throw new ArgumentException(
                $"The tokenizer {(model.TokenizerFile is { } file ? $"'{file}'" : "of the export")} has {tokenizer.VocabularySize} tokens but the model " +
                $"'{model.Path}' has a vocabulary of {config.VocabSize}: they belong to different models.");
}
