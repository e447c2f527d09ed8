using MlPipelines.Exporter;
using MlPipelines.ManagedEngine.Loading;
using MlPipelines.ManagedEngine.Model;
using MlPipelines.ManagedEngine.Tokenization;
using MlPipelines.Pipelines.Onnx;

namespace MlPipelines.Pipelines;

/// <summary>Which engine runs a model.</summary>
public enum EngineKind
{
    /// <summary>The pure C# reference engine, on a checkpoint.</summary>
    Managed,

    /// <summary>ONNX Runtime, on a directory written by <c>mlpipe export</c>.</summary>
    Onnx,
}

/// <summary>How the managed engine runs a model.</summary>
public sealed record ManagedEngineOptions
{
    /// <summary>Threads per session (0: one per processor). Results do not depend on it.</summary>
    public int Threads { get; init; }

    /// <summary>Quantise fp32 weights to int8 (Q8_0) on load. int8 checkpoints are int8 anyway.</summary>
    public bool Quantize { get; init; }
}

/// <summary>A loaded model and its tokenizer. Disposing releases the model.</summary>
public sealed record LoadedModel(ILanguageModel Model, PieceTokenizer Tokenizer) : IDisposable
{
    /// <inheritdoc />
    public void Dispose() => Model.Dispose();
}

/// <summary>Opens models on either engine from what a user names (a path or a model name).</summary>
public static class LanguageModels
{
    /// <summary>
    /// Opens <paramref name="model"/> (null: the default model) on <paramref name="engine"/>, with the
    /// tokenizer named by <paramref name="tokenizer"/> or else the one that belongs to the model.
    /// </summary>
    /// <param name="model">Model path or name.</param>
    /// <param name="tokenizer">Tokenizer path (null: the model's own).</param>
    /// <param name="engine">The engine.</param>
    /// <param name="onnx">ONNX Runtime settings (ONNX engine).</param>
    /// <param name="managed">Threads and int8 quantisation (managed engine).</param>
    /// <param name="exportCacheDirectory">ONNX engine given a model rather than an export directory: where the export
    /// is cached (default: <see cref="OnnxExportCache.DefaultDirectory"/>).</param>
    public static LoadedModel Open(string? model, string? tokenizer, EngineKind engine, OnnxEngineOptions? onnx = null,
        ManagedEngineOptions? managed = null, string? exportCacheDirectory = null)
    {
        if (engine == EngineKind.Managed)
        {
            managed ??= new ManagedEngineOptions();
            var loaded = ManagedModelLoader.LoadModel(model, managed.Threads, managed.Quantize);
            try
            {
                return new LoadedModel(loaded, Matching(ManagedModelLoader.LoadTokenizer(tokenizer, model), loaded.Config));
            }
            catch
            {
                loaded.Dispose();
                throw;
            }
        }

        // The ONNX engine runs an export directory; any other model (llama2.c, Hugging Face, GGUF) is exported
        // once into the export cache (keyed by the model's and tokenizer's content) and run from there.
        string resolved = ModelLocator.Resolve(model);
        if (!File.Exists(Path.Combine(resolved, ExportManifest.FileName)))
        {
            string sourcePath = ModelSource.Detect(resolved).Path;
            string tokenizerFile = ManagedModelLoader.ResolveTokenizerFile(tokenizer, sourcePath, out _);
            resolved = OnnxExportCache.GetOrExport(sourcePath, tokenizerFile, exportCacheDirectory, out _);
        }
        var exported = OnnxLanguageModel.Load(resolved, onnx);
        try
        {
            PieceTokenizer tok = tokenizer is null ? exported.LoadTokenizer() : ManagedModelLoader.LoadTokenizer(tokenizer, null);
            return new LoadedModel(exported, Matching(tok, exported.Config));
        }
        catch
        {
            exported.Dispose();
            throw;
        }
    }

    private static PieceTokenizer Matching(PieceTokenizer tokenizer, ModelConfig config) =>
        tokenizer.VocabularySize <= config.VocabSize
            ? tokenizer
            : throw new ArgumentException(
                $"The tokenizer has {tokenizer.VocabularySize} tokens but the model only {config.VocabSize}: they do not belong together.");
}
