using MlPipelines.ManagedEngine.Checkpoints;
using MlPipelines.ManagedEngine.Inference;
using MlPipelines.ManagedEngine.Quantization;
using MlPipelines.ManagedEngine.Tokenization;

namespace MlPipelines.ManagedEngine.Loading;

/// <summary>
/// Loads models and their tokenizers for the managed engine from what a user names: a checkpoint
/// file, a model directory, or a model name (see <see cref="ModelLocator"/>).
/// </summary>
public static class ManagedModelLoader
{
    /// <summary>
    /// Loads the model behind <paramref name="nameOrPath"/> (null: the default model) in any format
    /// <see cref="ModelSource"/> detects: a llama2.c fp32 or int8 (Q8_0) checkpoint, a Hugging Face
    /// directory, or a GGUF file.
    /// </summary>
    /// <param name="nameOrPath">A model file, a model directory or a model name.</param>
    /// <param name="threads">Threads per session (0: one per processor).</param>
    /// <param name="quantize">Quantise fp32 weights to int8 Q8_0 on load (ignored for int8 files).</param>
    /// <exception cref="FileNotFoundException">Nothing of that name exists.</exception>
    /// <exception cref="InvalidDataException">The model is malformed.</exception>
    /// <exception cref="NotSupportedException">A format variant the engine does not implement.</exception>
    public static TransformerModel LoadModel(string? nameOrPath, int threads = 0, bool quantize = false)
    {
        ModelSource source = ModelSource.Locate(nameOrPath);
        if (source.Format == ModelFormat.Llama2cInt8)
            return new TransformerModel(Llama2cQ80Checkpoint.Load(source.Path), threads);
        var weights = source.LoadWeights();
        if (!quantize)
            return new TransformerModel(weights, threads);
        using (weights)
            return new TransformerModel(QuantizedLlamaWeights.FromFp32(weights), threads);
    }

    /// <summary>
    /// Loads a tokenizer. <paramref name="tokenizerNameOrPath"/> may name a tokenizer file
    /// (<c>.model</c> or llama2.c <c>tokenizer.bin</c>), or a model whose tokenizer lies beside it;
    /// when it is null the tokenizer beside <paramref name="modelNameOrPath"/> is used.
    /// </summary>
    /// <exception cref="FileNotFoundException">No tokenizer could be found.</exception>
    /// <exception cref="InvalidDataException">The tokenizer file is malformed.</exception>
    public static PieceTokenizer LoadTokenizer(string? tokenizerNameOrPath, string? modelNameOrPath)
    {
        string path = ResolveTokenizerFile(tokenizerNameOrPath, modelNameOrPath, out int? vocabSize);
        return TokenizerLoader.Load(path, vocabSize);
    }

    /// <summary>
    /// The tokenizer file <see cref="LoadTokenizer"/> would load; <paramref name="vocabSize"/> is the
    /// model's vocabulary size when the file was found from a model. A GGUF model is its own tokenizer file.
    /// </summary>
    public static string ResolveTokenizerFile(string? tokenizerNameOrPath, string? modelNameOrPath, out int? vocabSize)
    {
        vocabSize = null;
        ModelSource model;
        if (tokenizerNameOrPath is not null)
        {
            string resolved = ModelLocator.Resolve(tokenizerNameOrPath);
            if (!Directory.Exists(resolved) && !IsModelFile(resolved))
                return resolved;
            model = ModelSource.Detect(resolved);
        }
        else
        {
            model = ModelSource.Locate(modelNameOrPath);
        }
        if (model.HasEmbeddedTokenizer)
            return model.Path;
        int vocab;
        try
        {
            vocab = model.ReadConfig().VocabSize;
        }
        catch (Exception e) when (e is InvalidDataException or NotSupportedException)
        {
            throw new InvalidDataException($"'{model.Path}' is not a readable model ({e.Message}), so its tokenizer cannot be located.", e);
        }
        vocabSize = vocab;
        return TokenizerLoader.FindBeside(model.Path, vocab)
            ?? throw new FileNotFoundException(
                $"No tokenizer beside '{model.Path}': expected tokenizer.bin, tokenizer.model, tok{vocab}.bin or tok{vocab}.model " +
                $"in {(Directory.Exists(model.Path) ? "that directory" : "the same directory")}; name one with --tokenizer.", model.Path);
    }

    // A model file rather than a tokenizer file: GGUF (which holds both; read as a model so its own tokenizer is used),
    // or a llama2.c checkpoint, whose header and size must agree exactly, so a tokenizer file is never mistaken for one.
    private static bool IsModelFile(string path)
    {
        if (!File.Exists(path)) return false;
        try
        {
            var source = ModelSource.Detect(path);
            if (source.Format is ModelFormat.Gguf or ModelFormat.HuggingFace) return true;
            source.ReadConfig();
            return true;
        }
        catch (Exception e) when (e is InvalidDataException or NotSupportedException)
        {
            return false;
        }
    }
}
