using System.Buffers.Binary;
using System.Runtime.InteropServices;
using MlPipelines.ManagedEngine.IO;
using MlPipelines.ManagedEngine.Model;

namespace MlPipelines.ManagedEngine.Formats.Llama2c;

/// <summary>
/// Writes llama2.c legacy (version 0) fp32 checkpoints that <see cref="Llama2cCheckpoint"/> and
/// llama2.c's run.c can read: either given weights, or seeded random weights of any shape for
/// tests and speed measurements where the real model cannot be downloaded.
/// </summary>
/// <remarks>
/// Output goes to a temporary file in the target directory and is moved into place only when
/// complete. The two unused RoPE tables are filled as export.py's <c>legacy_export</c> does:
/// <c>cos</c> and <c>sin</c> of <c>t * theta^(-2i / head_size)</c> for position t and pair i.
/// </remarks>
public static class Llama2cCheckpointWriter
{
    private const int ChunkFloats = 1 << 16;

    /// <summary>Writes <paramref name="weights"/> to <paramref name="path"/>.</summary>
    /// <param name="path">The checkpoint to create.</param>
    /// <param name="weights">The weights; their config must be representable in the format (see remarks).</param>
    /// <param name="overwrite">Replace an existing file instead of refusing.</param>
    /// <remarks>
    /// The format stores no RoPE theta, norm epsilon or special ids, so the config must use
    /// llama2.c's (10000, 1e-5); a shared classifier must equal the embedding table.
    /// </remarks>
    /// <exception cref="ArgumentException">The weights cannot be stored as a version-0 checkpoint.</exception>
    /// <exception cref="IOException">The file exists and <paramref name="overwrite"/> is false.</exception>
    public static void Write(string path, LlamaWeights weights, bool overwrite = false)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        ArgumentNullException.ThrowIfNull(weights);
        var l = Validate(weights.Config, nameof(weights));
        CheckTensors(weights, l);

        AtomicFileWriter.Write(path, overwrite, stream =>
        {
            WriteHeader(stream, l);
            Put(stream, weights.TokenEmbedding);
            foreach (var layer in weights.Layers) Put(stream, layer.RmsAttention);
            foreach (var layer in weights.Layers) Put(stream, layer.Wq);
            foreach (var layer in weights.Layers) Put(stream, layer.Wk);
            foreach (var layer in weights.Layers) Put(stream, layer.Wv);
            foreach (var layer in weights.Layers) Put(stream, layer.Wo);
            foreach (var layer in weights.Layers) Put(stream, layer.RmsFfn);
            foreach (var layer in weights.Layers) Put(stream, layer.W1);
            foreach (var layer in weights.Layers) Put(stream, layer.W2);
            foreach (var layer in weights.Layers) Put(stream, layer.W3);
            Put(stream, weights.RmsFinal);
            WriteFreqCis(stream, l);
            if (!l.SharedClassifier)
                Put(stream, weights.Classifier);
        });
    }

    /// <summary>
    /// Writes a checkpoint of shape <paramref name="config"/> with random weights drawn from a
    /// generator seeded by <paramref name="seed"/>; the same seed gives a byte-identical file.
    /// Weights are streamed, so memory use does not grow with the model size.
    /// </summary>
    /// <param name="path">The checkpoint to create.</param>
    /// <param name="config">The shape (see <see cref="ModelShapes"/> for named ones).</param>
    /// <param name="seed">Seed of the weight generator.</param>
    /// <param name="overwrite">Replace an existing file instead of refusing.</param>
    /// <param name="cancellationToken">Stops the write; no file is left behind.</param>
    /// <remarks>
    /// Every matrix is uniform in ±1/sqrt(fan_in) (fan_in = its input width; dim for the embedding
    /// and classifier), and every RMSNorm weight is 1. Each projection then roughly preserves the
    /// scale of its (normalised) input, so activations stay finite through many layers and the
    /// logits have a spread of order one: finite and non-degenerate, though meaningless.
    /// </remarks>
    /// <exception cref="ArgumentException">The config cannot be stored as a version-0 checkpoint.</exception>
    /// <exception cref="IOException">The file exists and <paramref name="overwrite"/> is false.</exception>
    public static void WriteRandom(string path, ModelConfig config, int seed, bool overwrite = false,
        CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        ArgumentNullException.ThrowIfNull(config);
        var l = Validate(config, nameof(config));
        long layers = l.LayerCount;
        float dimScale = 1f / MathF.Sqrt(l.Dim);

        AtomicFileWriter.Write(path, overwrite, stream =>
        {
            var rng = new SplitMix64(seed);
            var buffer = new float[ChunkFloats];
            void Fill(long count, float scale, bool random)
            {
                while (count > 0)
                {
                    cancellationToken.ThrowIfCancellationRequested();
                    var chunk = buffer.AsSpan(0, (int)Math.Min(count, buffer.Length));
                    if (random) rng.FillUniform(chunk, scale); else chunk.Fill(scale);
                    stream.Write(MemoryMarshal.AsBytes(chunk));
                    count -= chunk.Length;
                }
            }

            WriteHeader(stream, l);
            Fill(l.EmbeddingSize, dimScale, random: true);
            Fill(layers * l.Dim, 1f, random: false);                  // rms_att
            Fill(layers * l.WqSize, dimScale, random: true);          // wq
            Fill(2 * layers * l.WkSize, dimScale, random: true);      // wk, wv
            Fill(layers * l.WqSize, dimScale, random: true);          // wo
            Fill(layers * l.Dim, 1f, random: false);                  // rms_ffn
            Fill(layers * l.FfnSize, dimScale, random: true);         // w1
            Fill(layers * l.FfnSize, 1f / MathF.Sqrt(l.HiddenDim), random: true); // w2
            Fill(layers * l.FfnSize, dimScale, random: true);         // w3
            Fill(l.Dim, 1f, random: false);                           // rms_final
            WriteFreqCis(stream, l);
            if (!l.SharedClassifier)
                Fill(l.EmbeddingSize, dimScale, random: true);
        });
    }

    private static Llama2cLayout Validate(ModelConfig config, string paramName)
    {
        var layout = Llama2cLayout.TryCreate(config, out string error)
            ?? throw new ArgumentException($"The model config cannot be stored as a llama2.c checkpoint: {error}.", paramName);
        // The format has no fields for these; writing another value would silently change the model.
        if (config.RopeTheta != 10000f || config.NormEpsilon != 1e-5f)
            throw new ArgumentException($"The model config cannot be stored as a llama2.c checkpoint: RopeTheta = {config.RopeTheta} " +
                $"and NormEpsilon = {config.NormEpsilon}, but the format implies 10000 and 1e-05.", paramName);
        if (config.RopeScaling.Kind != RopeScalingKind.None)
            throw new ArgumentException($"The model config cannot be stored as a llama2.c checkpoint: it has RoPE scaling ({config.RopeScaling.Kind}), " +
                "which the format cannot record.", paramName);
        return layout;
    }

    private static void CheckTensors(LlamaWeights w, Llama2cLayout l)
    {
        void Expect(WeightTensor t, int length, string name)
        {
            if (t.Length != length)
                throw new ArgumentException($"{w.Source}: {name} has {t.Length} floats; the config implies {length}.", nameof(w));
        }
        if (w.Layers.Count != l.LayerCount)
            throw new ArgumentException($"{w.Source}: {w.Layers.Count} layers; the config says {l.LayerCount}.", nameof(w));
        Expect(w.TokenEmbedding, l.EmbeddingSize, "TokenEmbedding");
        Expect(w.RmsFinal, l.Dim, "RmsFinal");
        Expect(w.Classifier, l.EmbeddingSize, "Classifier");
        for (int i = 0; i < w.Layers.Count; i++)
        {
            var layer = w.Layers[i];
            Expect(layer.RmsAttention, l.Dim, $"Layers[{i}].RmsAttention");
            Expect(layer.Wq, l.WqSize, $"Layers[{i}].Wq");
            Expect(layer.Wk, l.WkSize, $"Layers[{i}].Wk");
            Expect(layer.Wv, l.WkSize, $"Layers[{i}].Wv");
            Expect(layer.Wo, l.WqSize, $"Layers[{i}].Wo");
            Expect(layer.RmsFfn, l.Dim, $"Layers[{i}].RmsFfn");
            Expect(layer.W1, l.FfnSize, $"Layers[{i}].W1");
            Expect(layer.W2, l.FfnSize, $"Layers[{i}].W2");
            Expect(layer.W3, l.FfnSize, $"Layers[{i}].W3");
        }
        // The shared flag drops the classifier from the file; refuse to lose a distinct one.
        if (l.SharedClassifier && !w.Classifier.Span.SequenceEqual(w.TokenEmbedding.Span))
            throw new ArgumentException($"{w.Source}: the config says SharedClassifier but the classifier differs from the token embedding.", nameof(w));
    }

    private static void WriteHeader(Stream stream, Llama2cLayout l)
    {
        Span<byte> header = stackalloc byte[Llama2cLayout.HeaderBytes];
        ReadOnlySpan<int> fields = [l.Dim, l.HiddenDim, l.LayerCount, l.HeadCount, l.KvHeadCount, l.HeaderVocabField, l.SeqLen];
        for (int i = 0; i < fields.Length; i++)
            BinaryPrimitives.WriteInt32LittleEndian(header[(i * 4)..], fields[i]);
        stream.Write(header);
    }

    /// <summary>The legacy freq_cis_real then freq_cis_imag tables, [seq_len, head_size / 2] each.</summary>
    private static void WriteFreqCis(Stream stream, Llama2cLayout l)
    {
        int half = l.HeadSize / 2;
        var row = new float[half];
        foreach (bool imag in (ReadOnlySpan<bool>)[false, true])
        {
            for (int t = 0; t < l.SeqLen; t++)
            {
                for (int i = 0; i < half; i++)
                {
                    // Computed in double then rounded; export.py computes in fp32, so values may differ in the last bits.
                    double angle = t * Math.Pow(10000.0, -2.0 * i / l.HeadSize);
                    row[i] = (float)(imag ? Math.Sin(angle) : Math.Cos(angle));
                }
                stream.Write(MemoryMarshal.AsBytes(row.AsSpan()));
            }
        }
    }

    private static void Put(Stream stream, WeightTensor tensor) => stream.Write(MemoryMarshal.AsBytes(tensor.Span));
}
