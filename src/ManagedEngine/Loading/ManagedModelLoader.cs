using MlPipelines.ManagedEngine.Formats;
using MlPipelines.ManagedEngine.Formats.Llama2c;
using MlPipelines.ManagedEngine.Inference;
using MlPipelines.ManagedEngine.Quantization;
using MlPipelines.ManagedEngine.Tokenization;

namespace MlPipelines.ManagedEngine.Loading;

/// <summary>Loads models and their tokenizers for the managed engine (see <see cref="ResolvedModel"/>).</summary>
public static class ManagedModelLoader
{
    /// <summary>
    /// Loads a resolved model in any format <see cref="ModelSource"/> detects: a llama2.c fp32 or int8 (Q8_0)
    /// checkpoint, a Hugging Face directory, or a GGUF file (its matrices used as stored: F32, F16, BF16, Q8_0, Q4_0,
    /// Q4_1, Q5_0, Q5_1, Q4_K, Q5_K, Q6_K).
    /// </summary>
    /// <param name="model">The model.</param>
    /// <param name="threads">Threads per session (0: one per processor).</param>
    /// <param name="quantize">Quantise fp32 weights to int8 Q8_0 on load (ignored for int8 files).</param>
    /// <param name="kvCache">How sessions store keys and values (fp32 by default; fp16 halves the cache).</param>
    /// <exception cref="InvalidDataException">The model is malformed.</exception>
    /// <exception cref="NotSupportedException">A format variant the engine does not implement, or an ONNX export.</exception>
    public static TransformerModel LoadModel(ResolvedModel model, int threads = 0, bool quantize = false, KvCacheFormat kvCache = KvCacheFormat.F32)
    {
        ArgumentNullException.ThrowIfNull(model);
        if (model.Format == ModelFormat.Llama2cInt8)
            return new TransformerModel(Llama2cQ80Checkpoint.Load(model.Path), threads) { KvCache = kvCache };
        if (model.Format == ModelFormat.Gguf && !quantize)
            return new TransformerModel(Formats.Gguf.GgufCheckpoint.LoadStored(model.Path), threads) { KvCache = kvCache };
        if (model.Format == ModelFormat.HuggingFace && !quantize)
            return new TransformerModel(Formats.Safetensors.HuggingFaceCheckpoint.LoadStored(model.Path), threads) { KvCache = kvCache };
        var weights = model.Source.LoadWeights();
        if (!quantize)
            return new TransformerModel(weights, threads) { KvCache = kvCache };
        using (weights)
            return new TransformerModel(QuantizedLlamaWeights.FromFp32(weights), threads) { KvCache = kvCache };
    }

    /// <summary>
    /// True when <see cref="LoadModel(ResolvedModel, int, bool, KvCacheFormat)"/> with <paramref name="quantize"/> re-quantises the weights
    /// to int8 Q8_0 on load: whenever it is asked to, except for a llama2.c int8 file, which is Q8_0 already and runs as stored.
    /// (A Q8_0 GGUF file is dequantised on load, so asking re-quantises it in the engine's own groups.)
    /// </summary>
    public static bool RequantizesOnLoad(ResolvedModel model, bool quantize)
    {
        ArgumentNullException.ThrowIfNull(model);
        return quantize && model.Format != ModelFormat.Llama2cInt8;
    }

    /// <summary>Finds and loads <paramref name="nameOrPath"/> (null: the default model); see <see cref="ModelLocator"/>.</summary>
    /// <exception cref="FileNotFoundException">Nothing of that name exists.</exception>
    /// <inheritdoc cref="LoadModel(ResolvedModel, int, bool, KvCacheFormat)"/>
    public static TransformerModel LoadModel(string? nameOrPath, int threads = 0, bool quantize = false, KvCacheFormat kvCache = KvCacheFormat.F32) =>
        LoadModel(ResolvedModel.Resolve(nameOrPath), threads, quantize, kvCache);

    /// <summary>
    /// Loads a tokenizer. <paramref name="tokenizerNameOrPath"/> may name a tokenizer file (<c>.model</c>, llama2.c
    /// <c>tokenizer.bin</c>, GGUF), or a model whose tokenizer lies beside it; when it is null the tokenizer beside
    /// <paramref name="modelNameOrPath"/> (null: the default model) is used.
    /// </summary>
    /// <exception cref="FileNotFoundException">No tokenizer could be found.</exception>
    /// <exception cref="InvalidDataException">The tokenizer file is malformed.</exception>
    public static PieceTokenizer LoadTokenizer(string? tokenizerNameOrPath, string? modelNameOrPath) =>
        tokenizerNameOrPath is not null && modelNameOrPath is null
            ? TokenizerLoader.Load(ResolvedModel.ResolveTokenizerFile(tokenizerNameOrPath))
            : ResolvedModel.Resolve(modelNameOrPath, tokenizerNameOrPath).LoadTokenizer();
}
