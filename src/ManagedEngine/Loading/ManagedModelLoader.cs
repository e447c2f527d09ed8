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
    /// Loads the checkpoint behind <paramref name="nameOrPath"/> (null: the default model): a llama2.c
    /// version-0 fp32 file, or a version-2 int8 (Q8_0) file as runq.c reads.
    /// </summary>
    /// <param name="nameOrPath">A checkpoint file, a model directory or a model name.</param>
    /// <param name="threads">Threads per session (0: one per processor).</param>
    /// <param name="quantize">Quantise fp32 weights to int8 Q8_0 on load (ignored for int8 files).</param>
    /// <exception cref="FileNotFoundException">Nothing of that name exists.</exception>
    /// <exception cref="InvalidDataException">The checkpoint is malformed.</exception>
    public static TransformerModel LoadModel(string? nameOrPath, int threads = 0, bool quantize = false)
    {
        string checkpoint = ModelLocator.CheckpointFile(ModelLocator.Resolve(nameOrPath));
        if (IsQ80(checkpoint))
            return new TransformerModel(Llama2cQ80Checkpoint.Load(checkpoint), threads);
        var weights = Llama2cCheckpoint.Load(checkpoint);
        if (!quantize)
            return new TransformerModel(weights, threads);
        using (weights)
            return new TransformerModel(QuantizedLlamaWeights.FromFp32(weights), threads);
    }

    // llama2.c's version-2 export starts with the magic "ak42" (little-endian).
    private static bool IsQ80(string path)
    {
        using var stream = File.OpenRead(path);
        Span<byte> magic = stackalloc byte[4];
        return stream.ReadAtLeast(magic, 4, throwOnEndOfStream: false) == 4
            && System.Buffers.Binary.BinaryPrimitives.ReadUInt32LittleEndian(magic) == Llama2cCheckpoint.VersionedMagic;
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
    /// model's vocabulary size when the file was found beside a model.
    /// </summary>
    public static string ResolveTokenizerFile(string? tokenizerNameOrPath, string? modelNameOrPath, out int? vocabSize)
    {
        vocabSize = null;
        string modelPath;
        if (tokenizerNameOrPath is not null)
        {
            string resolved = ModelLocator.Resolve(tokenizerNameOrPath);
            if (!Directory.Exists(resolved) && !IsCheckpoint(resolved, out _))
                return resolved;
            modelPath = resolved;
        }
        else
        {
            modelPath = ModelLocator.Resolve(modelNameOrPath);
        }
        string checkpoint = ModelLocator.CheckpointFile(modelPath);
        if (!IsCheckpoint(checkpoint, out int vocab))
            throw new InvalidDataException($"'{checkpoint}' is not a readable checkpoint, so its tokenizer cannot be located.");
        vocabSize = vocab;
        return TokenizerLoader.FindBeside(checkpoint, vocab)
            ?? throw new FileNotFoundException(
                $"No tokenizer beside '{checkpoint}': expected tokenizer.bin, tokenizer.model, tok{vocab}.bin or tok{vocab}.model " +
                "in the same directory; name one with --tokenizer.", checkpoint);
    }

    // A checkpoint's header and size must agree exactly, so a tokenizer file is never mistaken for one.
    private static bool IsCheckpoint(string path, out int vocabSize)
    {
        vocabSize = 0;
        if (!File.Exists(path)) return false;
        try
        {
            if (IsQ80(path))
            {
                using var quantized = Llama2cQ80Checkpoint.Load(path);
                vocabSize = quantized.Config.VocabSize;
                return true;
            }
            using var weights = Llama2cCheckpoint.Load(path);
            vocabSize = weights.Config.VocabSize;
            return true;
        }
        catch (Exception e) when (e is InvalidDataException or NotSupportedException)
        {
            return false;
        }
    }
}
