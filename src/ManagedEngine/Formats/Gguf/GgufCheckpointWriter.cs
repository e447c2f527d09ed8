using System.Runtime.InteropServices;
using MlPipelines.ManagedEngine.Model;

namespace MlPipelines.ManagedEngine.Formats.Gguf;

/// <summary>How <see cref="GgufCheckpointWriter"/> writes a file.</summary>
public sealed record GgufWriteOptions
{
    /// <summary>
    /// The tokenizer to embed as <c>tokenizer.ggml.*</c> metadata: a byte-level BPE <c>tokenizer.json</c> (Llama 3, SmolLM2) or a
    /// SentencePiece <c>.model</c> (Llama 2). Null writes no vocabulary (llama.cpp then cannot tokenize text).
    /// </summary>
    public string? TokenizerPath { get; init; }

    /// <summary>A Jinja chat template for <c>tokenizer.chat_template</c>, or null.</summary>
    public string? ChatTemplate { get; init; }

    /// <summary>
    /// Storage of the matrices (default <see cref="GgufQuantization.F32"/>): each tensor gets the type llama.cpp's quantize
    /// tool gives it under that preset (see <see cref="GgufQuantization"/>). Norm weights and RoPE factors stay F32.
    /// </summary>
    public GgufQuantization Quantization { get; init; } = GgufQuantization.F32;

    /// <summary>
    /// Every matrix in the preset's base type (llama.cpp's <c>--pure</c>): a Q4_0 file then has a Q4_0 classifier too, and a
    /// Q4_K_M file no Q6_K layers. Rows that are not whole blocks of the type still fall back as llama.cpp's do.
    /// </summary>
    public bool Pure { get; init; }

    /// <summary><c>general.name</c>.</summary>
    public string Name { get; init; } = "mlpipelines";
}

/// <summary>
/// Writes a LLaMA model as a GGUF file laid out as llama.cpp's converter lays it out (<c>llama.*</c> keys, tensor names,
/// ggml shapes innermost first, q/k rows in Meta's order), so that llama.cpp and <see cref="GgufCheckpoint"/> both load it.
/// RoPE settings are kept: the base, linear scaling as <c>llama.rope.scaling.*</c>, Llama 3.1's scaling as the per-frequency
/// divisors of <c>rope_freqs.weight</c>; an explicit head size as <c>attention.key_length</c>/<c>value_length</c>.
/// Used by <c>mlpipe synth --format gguf</c>.
/// </summary>
public static class GgufCheckpointWriter
{
    /// <summary>Writes <paramref name="weights"/> to <paramref name="path"/> (atomically).</summary>
    /// <exception cref="ArgumentException">The options do not fit the model (a vocabulary of another size, an unsupported matrix type).</exception>
    /// <exception cref="IOException">The file exists and <paramref name="overwrite"/> is false.</exception>
    /// <exception cref="NotSupportedException">The tokenizer cannot be written as a GGUF vocabulary.</exception>
    public static void Write(LlamaWeights weights, string path, GgufWriteOptions? options = null, bool overwrite = false)
    {
        ArgumentNullException.ThrowIfNull(weights);
        ArgumentException.ThrowIfNullOrEmpty(path);
        options ??= new GgufWriteOptions();
        ModelConfig c = weights.Config;
        var writer = new GgufWriter();
        WriteMetadata(writer, c, options);
        if (options.TokenizerPath is { } tokenizerPath)
            WriteVocabulary(writer, c, GgufVocabulary.FromFile(tokenizerPath), tokenizerPath);
        if (options.ChatTemplate is { } template)
            writer.String("tokenizer.chat_template", template);
        WriteTensors(writer, weights, options.Quantization, options.Pure);
        writer.WriteTo(path, overwrite);
    }

    /// <summary>Writes seeded random weights of <paramref name="config"/> (the same weights the other writers give for that seed).</summary>
    /// <inheritdoc cref="Write" path="/exception"/>
    public static void WriteRandom(string path, ModelConfig config, int seed, GgufWriteOptions? options = null, bool overwrite = false)
    {
        ArgumentNullException.ThrowIfNull(config);
        if (!overwrite && File.Exists(path))
            throw new IOException($"'{path}' exists; set overwrite to replace it.");
        using LlamaWeights weights = RandomWeights.Create(config, seed);
        Write(weights, path, options, overwrite);
    }

    private static void WriteMetadata(GgufWriter w, ModelConfig c, GgufWriteOptions options)
    {
        const string a = GgufLlamaConfig.Architecture;
        w.String("general.architecture", a)
            .String("general.name", options.Name)
            .UInt32("general.file_type", GgufQuantizationPlan.FileType(options.Quantization))
            .UInt32("general.quantization_version", 2)   // ggml's block layouts as of 2023 onwards, as llama.cpp writes
            .UInt32($"{a}.context_length", (uint)c.MaxSequenceLength)
            .UInt32($"{a}.embedding_length", (uint)c.Dim)
            .UInt32($"{a}.block_count", (uint)c.LayerCount)
            .UInt32($"{a}.feed_forward_length", (uint)c.HiddenDim)
            .UInt32($"{a}.rope.dimension_count", (uint)c.HeadDim)
            .UInt32($"{a}.attention.head_count", (uint)c.HeadCount)
            .UInt32($"{a}.attention.head_count_kv", (uint)c.KvHeadCount)
            .Float32($"{a}.attention.layer_norm_rms_epsilon", c.NormEpsilon)
            .Float32($"{a}.rope.freq_base", c.RopeTheta)
            .UInt32($"{a}.vocab_size", (uint)c.VocabSize)
            .UInt32("tokenizer.ggml.bos_token_id", (uint)c.BosId)
            .UInt32("tokenizer.ggml.eos_token_id", (uint)c.EosId);
        if (c.HasExplicitHeadDim)
            w.UInt32($"{a}.attention.key_length", (uint)c.HeadDim).UInt32($"{a}.attention.value_length", (uint)c.HeadDim);
        if (c.RopeScaling.Kind == RopeScalingKind.Linear)
            w.String($"{a}.rope.scaling.type", "linear").Float32($"{a}.rope.scaling.factor", c.RopeScaling.Factor);
    }

    /// <summary>
    /// The vocabulary, then the configuration's special ids over the tokenizer's own (the model's settings win, as in
    /// llama.cpp's converter): end-of-turn and end-of-message ids found among the stop ids by their text.
    /// </summary>
    private static void WriteVocabulary(GgufWriter w, ModelConfig c, GgufVocabulary vocabulary, string path)
    {
        if (vocabulary.Count != c.VocabSize)
            throw new ArgumentException($"'{path}' has {vocabulary.Count} tokens, but the model's vocabulary has {c.VocabSize}.");
        vocabulary.WriteTo(w);
        w.UInt32("tokenizer.ggml.bos_token_id", (uint)c.BosId).UInt32("tokenizer.ggml.eos_token_id", (uint)c.EosId);
        var stops = c.StopIds.Append(c.EosId).ToHashSet();
        foreach (var (key, texts) in new[] { ("tokenizer.ggml.eot_token_id", new[] { "<|eot_id|>", "<|im_end|>", "<|end|>", "<end_of_turn>" }),
                     ("tokenizer.ggml.eom_token_id", new[] { "<|eom_id|>" }) })
            if (texts.Select(vocabulary.Find).FirstOrDefault(id => id is int i && stops.Contains(i)) is int found)
                w.UInt32(key, (uint)found);
    }

    private static void WriteTensors(GgufWriter w, LlamaWeights weights, GgufQuantization quantization, bool pure)
    {
        ModelConfig c = weights.Config;
        void Vector(string name, WeightTensor t) =>
            w.AddTensor(name, [t.Length], GgufTensorType.F32, (long)t.Length * sizeof(float), s => s.Write(MemoryMarshal.AsBytes(t.Span)));
        void Matrix(string name, WeightTensor t, int rows, int cols)
        {
            GgufTensorType type = GgufQuantizationPlan.TypeFor(quantization, name, c.LayerCount, cols, hasOutput: !c.SharedClassifier, pure);
            w.AddTensor(name, [cols, rows], type, rows * GgmlRows.RowBytes(type, cols), s => GgmlRows.Write(s, t.Span, rows, cols, type));
        }

        if (c.RopeScaling.Kind is RopeScalingKind.Llama3 or RopeScalingKind.FrequencyFactors)
        {
            float[] factors = c.RopeScaling.Kind == RopeScalingKind.FrequencyFactors
                ? [.. c.RopeScaling.Factors!]
                : c.RopeScaling.FrequencyDivisors(c.HeadDim, c.RopeTheta).Select(d => (float)d).ToArray();
            w.AddTensor(GgufLlamaTensors.RopeFrequencies, [factors.Length], GgufTensorType.F32, factors.Length * 4L,
                s => s.Write(MemoryMarshal.AsBytes(factors.AsSpan())));
        }
        Matrix(GgufLlamaTensors.TokenEmbedding, weights.TokenEmbedding, c.VocabSize, c.Dim);
        for (int i = 0; i < c.LayerCount; i++)
        {
            LayerWeights l = weights.Layers[i];
            string p = $"blk.{i}.";
            Vector(p + "attn_norm.weight", l.RmsAttention);
            Matrix(p + "attn_q.weight", l.Wq, c.QueryDim, c.Dim);
            Matrix(p + "attn_k.weight", l.Wk, c.KvDim, c.Dim);
            Matrix(p + "attn_v.weight", l.Wv, c.KvDim, c.Dim);
            Matrix(p + "attn_output.weight", l.Wo, c.Dim, c.QueryDim);
            Vector(p + "ffn_norm.weight", l.RmsFfn);
            Matrix(p + "ffn_gate.weight", l.W1, c.HiddenDim, c.Dim);
            Matrix(p + "ffn_down.weight", l.W2, c.Dim, c.HiddenDim);
            Matrix(p + "ffn_up.weight", l.W3, c.HiddenDim, c.Dim);
        }
        Vector(GgufLlamaTensors.OutputNorm, weights.RmsFinal);
        if (!c.SharedClassifier)
            Matrix(GgufLlamaTensors.Output, weights.Classifier, c.VocabSize, c.Dim);
    }
}
