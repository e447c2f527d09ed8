using System.Buffers.Binary;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.Json.Nodes;
using MlPipelines.ManagedEngine.IO;
using MlPipelines.ManagedEngine.Model;

namespace MlPipelines.ManagedEngine.Formats.Safetensors;

/// <summary>
/// Writes weights as a Hugging Face <c>LlamaForCausalLM</c> directory: <c>config.json</c> (the configuration, RoPE
/// base and scaling included) and one F32 <c>model.safetensors</c>. The q and k projections are written in transformers'
/// row order (the permutation its conversion script applies, which <see cref="HuggingFaceCheckpoint"/> undoes), so the
/// directory loads back to the same weights and any Hugging Face tool reads it as the same model. Used by
/// <c>mlpipe synth --format hf</c> for test and benchmark models of real shapes.
/// </summary>
public static class HuggingFaceCheckpointWriter
{
    /// <summary>Writes <paramref name="weights"/> into <paramref name="directory"/> (created if needed); each file atomically.</summary>
    /// <exception cref="IOException">A file exists and <paramref name="overwrite"/> is false.</exception>
    public static void Write(LlamaWeights weights, string directory, bool overwrite = false)
    {
        ArgumentNullException.ThrowIfNull(weights);
        ArgumentException.ThrowIfNullOrEmpty(directory);
        ModelConfig c = weights.Config;
        Directory.CreateDirectory(directory);
        var tensors = Tensors(weights).ToList();

        // Header: name → dtype, shape, byte range; padded with spaces to a multiple of 8 as the format recommends.
        var header = new JsonObject { ["__metadata__"] = new JsonObject { ["format"] = "pt" } };
        long offset = 0;
        foreach (var (name, rows, cols, _) in tensors)
        {
            long bytes = (long)rows * cols * sizeof(float);
            header[name] = new JsonObject
            {
                ["dtype"] = "F32",
                ["shape"] = cols == 1 ? new JsonArray(rows) : new JsonArray(rows, cols),
                ["data_offsets"] = new JsonArray(offset, offset + bytes),
            };
            offset += bytes;
        }
        byte[] json = Encoding.UTF8.GetBytes(header.ToJsonString());
        int padded = (json.Length + 7) / 8 * 8;

        AtomicFileWriter.Write(Path.Combine(directory, "model.safetensors"), overwrite, stream =>
        {
            Span<byte> length = stackalloc byte[8];
            BinaryPrimitives.WriteUInt64LittleEndian(length, (ulong)padded);
            stream.Write(length);
            stream.Write(json);
            for (int i = json.Length; i < padded; i++) stream.WriteByte((byte)' ');
            foreach (var (_, rows, cols, write) in tensors)
                write(stream);
        });
        AtomicFileWriter.Write(Path.Combine(directory, HuggingFaceCheckpoint.ConfigFileName), overwrite, stream =>
        {
            byte[] config = Encoding.UTF8.GetBytes(Config(c).ToJsonString(new System.Text.Json.JsonSerializerOptions { WriteIndented = true }));
            stream.Write(config);
        });
    }

    /// <summary>
    /// Writes seeded random weights of <paramref name="config"/> as a Hugging Face directory: for a shape llama2.c can hold,
    /// the same weights <see cref="Llama2c.Llama2cCheckpointWriter.WriteRandom"/> writes for that seed, with the
    /// configuration's RoPE settings, head width and special ids, which llama2.c files cannot record.
    /// </summary>
    /// <exception cref="IOException">The directory is not empty and <paramref name="overwrite"/> is false.</exception>
    public static void WriteRandom(string directory, ModelConfig config, int seed, bool overwrite = false)
    {
        ArgumentException.ThrowIfNullOrEmpty(directory);
        ArgumentNullException.ThrowIfNull(config);
        if (!overwrite && Directory.Exists(directory) && Directory.EnumerateFileSystemEntries(directory).Any())
            throw new IOException($"'{directory}' exists and is not empty; set overwrite to replace its files.");
        using LlamaWeights weights = RandomWeights.Create(config, seed);
        Write(weights, directory, overwrite: true);
    }

    /// <summary>The config.json of <paramref name="c"/>.</summary>
    public static JsonObject Config(ModelConfig c)
    {
        var config = new JsonObject
        {
            ["architectures"] = new JsonArray("LlamaForCausalLM"),
            ["model_type"] = "llama",
            ["hidden_size"] = c.Dim,
            ["intermediate_size"] = c.HiddenDim,
            ["num_hidden_layers"] = c.LayerCount,
            ["num_attention_heads"] = c.HeadCount,
            ["num_key_value_heads"] = c.KvHeadCount,
            ["vocab_size"] = c.VocabSize,
            ["max_position_embeddings"] = c.MaxSequenceLength,
            ["rms_norm_eps"] = c.NormEpsilon,
            ["rope_theta"] = c.RopeTheta,
            ["rope_scaling"] = RopeScalingJson(c.RopeScaling),
            ["tie_word_embeddings"] = c.SharedClassifier,
            ["hidden_act"] = "silu",
            ["bos_token_id"] = c.BosId,
            ["eos_token_id"] = c.StopIds.Count == 0 ? c.EosId : new JsonArray([.. new[] { c.EosId }.Concat(c.StopIds).Select(id => (JsonNode?)id)]),
            ["torch_dtype"] = "float32",
        };
        if (c.HasExplicitHeadDim)
            config["head_dim"] = c.HeadDim;
        return config;
    }

    private static JsonNode? RopeScalingJson(RopeScaling s) => s.Kind switch
    {
        RopeScalingKind.None => null,
        RopeScalingKind.Linear => new JsonObject { ["rope_type"] = "linear", ["factor"] = s.Factor },
        RopeScalingKind.Llama3 => new JsonObject
        {
            ["rope_type"] = "llama3", ["factor"] = s.Factor, ["low_freq_factor"] = s.LowFrequencyFactor,
            ["high_freq_factor"] = s.HighFrequencyFactor, ["original_max_position_embeddings"] = s.OriginalMaxPositions,
        },
        _ => throw new NotSupportedException($"RoPE scaling {s.Kind} has no config.json form (only llama3 and linear do)."),
    };

    /// <summary>Every tensor in transformers' order: name, shape (a vector has one column) and how to write its bytes.</summary>
    private static IEnumerable<(string Name, int Rows, int Cols, Action<Stream> Write)> Tensors(LlamaWeights w)
    {
        ModelConfig c = w.Config;
        yield return (LlamaTensorNames.Embedding, c.VocabSize, c.Dim, s => Floats(s, w.TokenEmbedding.Span));
        for (int l = 0; l < c.LayerCount; l++)
        {
            LayerWeights layer = w.Layers[l];
            string Name(string suffix) => LlamaTensorNames.Layer(l, suffix);
            yield return (Name(LlamaTensorNames.AttentionNorm), c.Dim, 1, s => Floats(s, layer.RmsAttention.Span));
            yield return (Name(LlamaTensorNames.Query), c.QueryDim, c.Dim, s => RotaryPermuted(s, layer.Wq.Span, c.Dim, c.HeadDim));
            yield return (Name(LlamaTensorNames.Key), c.KvDim, c.Dim, s => RotaryPermuted(s, layer.Wk.Span, c.Dim, c.HeadDim));
            yield return (Name(LlamaTensorNames.Value), c.KvDim, c.Dim, s => Floats(s, layer.Wv.Span));
            yield return (Name(LlamaTensorNames.Output), c.Dim, c.QueryDim, s => Floats(s, layer.Wo.Span));
            yield return (Name(LlamaTensorNames.FfnNorm), c.Dim, 1, s => Floats(s, layer.RmsFfn.Span));
            yield return (Name(LlamaTensorNames.Gate), c.HiddenDim, c.Dim, s => Floats(s, layer.W1.Span));
            yield return (Name(LlamaTensorNames.Down), c.Dim, c.HiddenDim, s => Floats(s, layer.W2.Span));
            yield return (Name(LlamaTensorNames.Up), c.HiddenDim, c.Dim, s => Floats(s, layer.W3.Span));
        }
        yield return (LlamaTensorNames.FinalNorm, c.Dim, 1, s => Floats(s, w.RmsFinal.Span));
        if (!c.SharedClassifier)
            yield return (LlamaTensorNames.Classifier, c.VocabSize, c.Dim, s => Floats(s, w.Classifier.Span));
    }

    private static void Floats(Stream stream, ReadOnlySpan<float> values)
    {
        if (!BitConverter.IsLittleEndian) throw new PlatformNotSupportedException("safetensors stores little-endian floats.");
        stream.Write(MemoryMarshal.AsBytes(values));
    }

    /// <summary>Writes a q or k projection with its rows in Hugging Face's order (the inverse of what the reader undoes).</summary>
    private static void RotaryPermuted(Stream stream, ReadOnlySpan<float> matrix, int cols, int headDim)
    {
        int rows = matrix.Length / cols;
        var metaRowOf = new int[rows];
        for (int meta = 0; meta < rows; meta++) metaRowOf[RotaryRows.HuggingFaceRow(meta, headDim)] = meta;
        for (int hf = 0; hf < rows; hf++)
            Floats(stream, matrix.Slice(metaRowOf[hf] * cols, cols));
    }
}
