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
    public static LoadedModel Open(string? model, string? tokenizer, EngineKind engine, OnnxEngineOptions? onnx = null)
    {
        if (engine == EngineKind.Managed)
        {
            var managed = ManagedModelLoader.LoadModel(model);
            try
            {
                return new LoadedModel(managed, Matching(ManagedModelLoader.LoadTokenizer(tokenizer, model), managed.Config));
            }
            catch
            {
                managed.Dispose();
                throw;
            }
        }

        if (model is null)
            throw new ArgumentException("The ONNX engine needs --model to name an export directory (write one with `mlpipe export`).", nameof(model));
        var loaded = OnnxLanguageModel.Load(ModelLocator.Resolve(model), onnx);
        try
        {
            PieceTokenizer tok = tokenizer is null ? loaded.LoadTokenizer() : ManagedModelLoader.LoadTokenizer(tokenizer, null);
            return new LoadedModel(loaded, Matching(tok, loaded.Config));
        }
        catch
        {
            loaded.Dispose();
            throw;
        }
    }

    private static PieceTokenizer Matching(PieceTokenizer tokenizer, ModelConfig config) =>
        tokenizer.VocabularySize <= config.VocabSize
            ? tokenizer
            : throw new ArgumentException(
                $"The tokenizer has {tokenizer.VocabularySize} tokens but the model only {config.VocabSize}: they do not belong together.");
}
