using MlPipelines.ManagedEngine.Model;

namespace MlPipelines.ManagedEngine.Formats.Gguf;

/// <summary>
/// Loads LLaMA models from GGUF files (llama.cpp's format): <c>general.architecture = "llama"</c>
/// with F32, F16, BF16 or Q8_0 tensors. F32 tensors stay views into the memory-mapped file; the
/// others are converted to fp32 buffers once, at load time.
/// </summary>
/// <remarks>
/// The configuration comes from the <c>llama.*</c> metadata (embedding_length, feed_forward_length,
/// block_count, attention.head_count[_kv], context_length, attention.layer_norm_rms_epsilon,
/// rope.freq_base defaulting to 10000) and the special ids from <c>tokenizer.ggml.bos/eos_token_id</c>
/// (default 1 and 2). Without <c>output.weight</c> the classifier is the embedding (tied). Every
/// tensor's shape is checked against the configuration before anything is converted. The
/// tokenizer in the same file is read by <see cref="GgufTokenizer"/>.
/// </remarks>
public static class GgufCheckpoint
{
    /// <summary>Reads the model in <paramref name="path"/>; dispose the weights to release their memory and the mapping.</summary>
    /// <exception cref="InvalidDataException">The file is malformed, or its tensors do not match its configuration.</exception>
    /// <exception cref="NotSupportedException">Another architecture, a tensor type other than F32/F16/BF16/Q8_0, or a llama variant the engine does not implement.</exception>
    public static LlamaWeights Load(string path)
    {
        GgufFile file = GgufFile.Open(path);
        var memory = new WeightMemory();
        try
        {
            ModelConfig config = GgufLlamaConfig.Read(file);
            var tensors = GgufLlamaTensors.Find(file, config);
            config = config with { SharedClassifier = tensors.OutputWeight is null };

            var converter = new GgufWeightConverter(file, memory);
            WeightTensor embedding = converter.ToFloat32(tensors.Embedding);
            var layers = tensors.Layers.Select(l => new LayerWeights
            {
                RmsAttention = converter.ToFloat32(l.RmsAttention),
                Wq = converter.ToFloat32(l.Wq),
                Wk = converter.ToFloat32(l.Wk),
                Wv = converter.ToFloat32(l.Wv),
                Wo = converter.ToFloat32(l.Wo),
                RmsFfn = converter.ToFloat32(l.RmsFfn),
                W1 = converter.ToFloat32(l.W1),
                W2 = converter.ToFloat32(l.W2),
                W3 = converter.ToFloat32(l.W3),
            }).ToArray();
            WeightTensor rmsFinal = converter.ToFloat32(tensors.OutputNormWeight);
            WeightTensor classifier = tensors.OutputWeight is { } output ? converter.ToFloat32(output) : embedding;
            config = WithRopeFactors(config, tensors, converter, path);

            // Keep the mapping only while some tensor points into it; fully converted files are closed now.
            if (converter.UsesMapping) memory.Own(file);
            else file.Dispose();
            return new LlamaWeights(config, embedding, layers, rmsFinal, classifier, memory, path);
        }
        catch
        {
            memory.Dispose();
            file.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Reads the model in <paramref name="path"/> with every matrix as stored (F32, F16, BF16, Q8_0, Q4_0, Q4_1, Q5_0,
    /// Q5_1, Q4_K, Q5_K, Q6_K), used in place from the memory map; only norm weights that are not F32 are converted, and
    /// (with <paramref name="forKernels"/>) Q8_0/Q4_0 matrices are re-laid for the x86 kernels, their file pages given back.
    /// </summary>
    /// <exception cref="InvalidDataException">The file is malformed, or its tensors do not match its configuration.</exception>
    /// <exception cref="NotSupportedException">Another architecture, a tensor type without kernels, or a llama variant the engine does not implement.</exception>
    /// <param name="path">The GGUF file.</param>
    /// <param name="forKernels">Re-lay the matrices the managed engine's kernels read faster in another layout (Q8_0, Q4_0 on
    /// x86) at load; false for readers of the file's own bytes (exports), which would only pay for the copy.</param>
    public static unsafe WeightStorage.StoredLlamaWeights LoadStored(string path, bool forKernels = true)
    {
        GgufFile file = GgufFile.Open(path);
        var memory = new WeightMemory();
        try
        {
            ModelConfig config = GgufLlamaConfig.Read(file);
            var tensors = GgufLlamaTensors.Find(file, config);
            config = config with { SharedClassifier = tensors.OutputWeight is null };
            var converter = new GgufWeightConverter(file, memory);
            // Matrices that multiply are re-laid for the kernels where that is faster (the embedding only when it is
            // also the classifier: lookups read single rows in the file's layout).
            WeightStorage.StoredMatrix Matrix(GgufTensorInfo t, bool multiplies = true)
            {
                var matrix = new WeightStorage.StoredMatrix(file.DataPointer(t), WeightStorage.WeightFormats.FromGguf(t.Type)!.Value,
                    checked((int)t.Dimensions[1]), checked((int)t.Dimensions[0]));
                if (multiplies && forKernels) matrix.Relay(memory, releaseSource: true);
                return matrix;
            }

            var embedding = Matrix(tensors.Embedding, multiplies: tensors.OutputWeight is null);
            var layers = tensors.Layers.Select(l => new WeightStorage.StoredLayer(converter.ToFloat32(l.RmsAttention),
                Matrix(l.Wq), Matrix(l.Wk), Matrix(l.Wv), Matrix(l.Wo), converter.ToFloat32(l.RmsFfn), Matrix(l.W1), Matrix(l.W2), Matrix(l.W3))).ToArray();
            WeightTensor rmsFinal = converter.ToFloat32(tensors.OutputNormWeight);
            var classifier = tensors.OutputWeight is { } output ? Matrix(output) : embedding;
            config = WithRopeFactors(config, tensors, converter, path);
            memory.Own(file);
            return new WeightStorage.StoredLlamaWeights(config, embedding, layers, rmsFinal, classifier, memory, path);
        }
        catch
        {
            memory.Dispose();
            file.Dispose();
            throw;
        }
    }

    /// <summary>Llama 3.1's RoPE scaling as llama.cpp stores it (a divisor per frequency in rope_freqs.weight), into the configuration.</summary>
    private static ModelConfig WithRopeFactors(ModelConfig config, GgufLlamaTensors tensors, GgufWeightConverter converter, string path)
    {
        if (tensors.RopeFrequencyFactors is not { } factors)
            return config;
        var scaling = RopeScaling.FromFactors(converter.ToFloat32(factors).Span.ToArray());
        if (config.RopeScaling.Kind != RopeScalingKind.None)
            throw new NotSupportedException($"{path}: it has both {GgufLlamaTensors.RopeFrequencies} and llama.rope.scaling metadata; expected one kind of RoPE scaling.");
        if (scaling.Problem() is { } problem)
            throw new InvalidDataException($"{path}: tensor '{GgufLlamaTensors.RopeFrequencies}': {problem}.");
        return config with { RopeScaling = scaling };
    }
}
