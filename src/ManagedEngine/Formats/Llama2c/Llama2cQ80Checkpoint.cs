using System.Buffers.Binary;
using MlPipelines.ManagedEngine.Formats;
using MlPipelines.ManagedEngine.Model;
using MlPipelines.ManagedEngine.Quantization;

namespace MlPipelines.ManagedEngine.Formats.Llama2c;

/// <summary>
/// Reads llama2.c version-2 checkpoints (int8 Q8_0 weights in groups, as written by export.py
/// <c>--version 2</c> and read by runq.c). The file is memory-mapped: the int8 matrices and their scales, and
/// the fp32 norms, are views into the mapping. Only the token embedding is materialised (dequantised to fp32
/// for row lookups, vocab · dim floats, as runq.c does).
/// </summary>
/// <remarks>
/// Validation happens before mapping: magic, version, the seven shape fields (the same bounds as
/// <see cref="Llama2cCheckpoint"/>), the shared-classifier flag, a group size that is positive, at most 65536
/// and divides every tensor, and a file length equal to what the header implies. Differences from runq.c, by
/// design: groups that straddle rows (w2 when group_size does not divide hidden_dim, e.g. stories260K) are
/// computed exactly, where runq.c drops the last <c>hidden_dim mod group_size</c> columns of each row.
/// </remarks>
public static unsafe class Llama2cQ80Checkpoint
{
    private static readonly string[] ConfigFields = ["dim", "hidden_dim", "n_layers", "n_heads", "n_kv_heads", "vocab_size", "seq_len"];

    /// <summary>Maps <paramref name="path"/> and returns its weights; dispose them to unmap the file.</summary>
    /// <exception cref="InvalidDataException">The file is not a well-formed version-2 checkpoint (the message names the file and field).</exception>
    /// <exception cref="NotSupportedException">The file is a llama2.c version-1 (fp32) checkpoint.</exception>
    public static QuantizedLlamaWeights Load(string path) =>
        MappedFile.LoadValidated<Llama2cQ80Layout, QuantizedLlamaWeights>(path, ReadLayout, CreateWeights);

    private static Llama2cQ80Layout ReadLayout(FileStream file, string path)
    {
        long length = file.Length;
        Span<byte> header = stackalloc byte[Llama2cQ80Layout.HeaderBytes];
        int read = file.ReadAtLeast(header, header.Length, throwOnEndOfStream: false);
        if (read < 4)
            throw Invalid(path, $"file length {length} bytes is too short for the 4-byte magic 'ak42' of a llama2.c version-2 checkpoint");
        uint magic = BinaryPrimitives.ReadUInt32LittleEndian(header);
        if (magic != Llama2cCheckpoint.VersionedMagic)
            throw Invalid(path, $"header field magic = 0x{magic:x8} is not 'ak42' (0x{Llama2cCheckpoint.VersionedMagic:x8}); " +
                "not a llama2.c version-2 checkpoint (legacy version-0 files have no magic: load them with Llama2cCheckpoint)");
        if (read < 8)
            throw Invalid(path, $"file length {length} bytes ends inside header field version");
        int version = BinaryPrimitives.ReadInt32LittleEndian(header[4..]);
        if (version == 1)
            throw new NotSupportedException($"{path}: header field version = 1: a llama2.c version-1 (fp32) checkpoint; this reader loads version 2 (Q8_0).");
        if (version != Llama2cQ80Layout.Version)
            throw Invalid(path, $"header field version = {version} is not 2 (llama2.c Q8_0 export)");
        if (read < header.Length)
            throw Invalid(path, $"file length {length} bytes is shorter than the {Llama2cQ80Layout.HeaderBytes}-byte version-2 header");

        Span<int> config = stackalloc int[ConfigFields.Length];
        for (int i = 0; i < config.Length; i++)
            config[i] = BinaryPrimitives.ReadInt32LittleEndian(header[(8 + 4 * i)..]);
        byte shared = header[36];
        int groupSize = BinaryPrimitives.ReadInt32LittleEndian(header[37..]); // packed right after the flag, unaligned
        var layout = Llama2cQ80Layout.TryCreate(config, shared, groupSize, out string error) ?? throw Invalid(path, error);

        MappedFile.CheckLength(path, length, layout.FileBytes, layout.Describe());
        return layout;
    }

    private static QuantizedLlamaWeights CreateWeights(MappedFile mapped, Llama2cQ80Layout l, string path)
    {
        byte* p = mapped.Pointer;
        Llama2cLayout s = l.Shape;
        int dim = s.Dim, kvDim = s.KvDim, hidden = s.HiddenDim, g = l.GroupSize;
        WeightTensor Floats(long offset, int count) => new((float*)(p + offset), count);
        Q8Matrix Matrix(long first, int index, int rows, int cols)
        {
            long offset = first + index * l.TensorBytes((long)rows * cols);
            return Q8Matrix.FromPointers((sbyte*)(p + offset), (float*)(p + offset + (long)rows * cols), rows, cols, g);
        }

        var layers = new QuantizedLayerWeights[s.LayerCount];
        for (int i = 0; i < layers.Length; i++)
        {
            layers[i] = new QuantizedLayerWeights
            {
                RmsAttention = Floats(l.RmsAtt + 4L * i * dim, dim),
                Wq = Matrix(l.Wq, i, dim, dim),
                Wk = Matrix(l.Wk, i, kvDim, dim),
                Wv = Matrix(l.Wv, i, kvDim, dim),
                Wo = Matrix(l.Wo, i, dim, dim),
                RmsFfn = Floats(l.RmsFfn + 4L * i * dim, dim),
                W1 = Matrix(l.W1, i, hidden, dim),
                W2 = Matrix(l.W2, i, dim, hidden),
                W3 = Matrix(l.W3, i, hidden, dim),
            };
        }

        Q8Matrix embedding = Matrix(l.TokenEmbedding, 0, s.VocabSize, dim);
        float[] table = GC.AllocateUninitializedArray<float>(s.EmbeddingSize, pinned: true);
        embedding.Dequantize(table);
        Q8Matrix classifier = l.SharedClassifier ? embedding : Matrix(l.Classifier, 0, s.VocabSize, dim);
        return new QuantizedLlamaWeights(l.ToConfig(), QuantizedLlamaWeights.View(table), layers, Floats(l.RmsFinal, dim),
            classifier, g, mapped, table, path);
    }

    private static InvalidDataException Invalid(string path, string message) => new($"{path}: {message}");
}
