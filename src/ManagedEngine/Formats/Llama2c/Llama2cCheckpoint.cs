using System.Buffers.Binary;
using MlPipelines.ManagedEngine.Model;

namespace MlPipelines.ManagedEngine.Formats.Llama2c;

/// <summary>
/// Reads llama2.c legacy (version 0) fp32 checkpoints, the format of Karpathy's tinyllamas
/// (stories260K, stories15M, ...). The file is memory-mapped and the weights are views into the
/// mapping: nothing is copied, and loading costs page-table entries, not the file's size in RAM.
/// </summary>
/// <remarks>
/// Header fields are checked against bounds before anything is mapped: dim ≤ 65536,
/// hidden_dim ≤ 262144, n_layers ≤ 1024, |vocab_size| ≤ 4194304, seq_len ≤ 1048576, each tensor
/// at most <see cref="int.MaxValue"/> floats, heads dividing dim, kv heads dividing heads, an even
/// head size, and a file length equal to what the header implies. The model settings the format
/// does not store follow llama2.c: RoPE theta 10000, RMSNorm epsilon 1e-5, BOS 1, EOS 2.
/// Weights are not checked for NaN or infinity: that would touch every page of a possibly
/// multi-gigabyte file at load time, defeating the mapping.
/// </remarks>
public static unsafe class Llama2cCheckpoint
{
    /// <summary>The magic that starts llama2.c version-1+ checkpoints: "ak42" as a little-endian uint32.</summary>
    internal const uint VersionedMagic = 0x616b3432;

    /// <summary>Maps <paramref name="path"/> and returns its weights; dispose them to unmap the file.</summary>
    /// <exception cref="InvalidDataException">The file is not a well-formed version-0 checkpoint.</exception>
    /// <exception cref="NotSupportedException">The file is a llama2.c version-1 or version-2 checkpoint.</exception>
    public static LlamaWeights Load(string path) =>
        MappedFile.LoadValidated<Llama2cLayout, LlamaWeights>(path, ReadLayout, CreateWeights);

    /// <summary>Reads and validates the header, and checks the file length against it.</summary>
    private static Llama2cLayout ReadLayout(FileStream file, string path)
    {
        long length = file.Length;
        if (length == 0)
            throw Invalid(path, $"file is empty; expected a {Llama2cLayout.HeaderBytes}-byte llama2.c header (dim, hidden_dim, n_layers, n_heads, n_kv_heads, vocab_size, seq_len)");

        Span<byte> header = stackalloc byte[Llama2cLayout.HeaderBytes];
        int read = file.ReadAtLeast(header, header.Length, throwOnEndOfStream: false);
        if (read >= 8 && BinaryPrimitives.ReadUInt32LittleEndian(header) == VersionedMagic)
            ThrowVersioned(path, BinaryPrimitives.ReadInt32LittleEndian(header[4..]));
        if (read < header.Length)
            throw Invalid(path, $"file length {length} bytes is shorter than the {Llama2cLayout.HeaderBytes}-byte header " +
                $"(7 int32 fields); header field {FieldNames[read / 4]} is missing");

        Span<int> h = stackalloc int[7];
        for (int i = 0; i < h.Length; i++)
            h[i] = BinaryPrimitives.ReadInt32LittleEndian(header[(i * 4)..]);
        var layout = Llama2cLayout.TryCreate(h[0], h[1], h[2], h[3], h[4], h[5], h[6], out string error)
            ?? throw Invalid(path, error);

        MappedFile.CheckLength(path, length, layout.FileBytes, layout.Describe());
        return layout;
    }

    private static readonly string[] FieldNames = ["dim", "hidden_dim", "n_layers", "n_heads", "n_kv_heads", "vocab_size", "seq_len"];

    private static void ThrowVersioned(string path, int version)
    {
        string? what = version switch
        {
            1 => "a llama2.c version-1 checkpoint (fp32 with a 256-byte header)",
            2 => "a llama2.c version-2 checkpoint (int8 Q8_0 weights, as read by runq.c)",
            _ => null,
        };
        if (what is null)
            throw Invalid(path, $"header field version = {version} after the llama2.c magic 'ak42' is not a known export version (1 or 2)");
        // A well-formed file in a format this reader does not handle yet, not a corrupt one.
        throw new NotSupportedException($"{path}: header field version = {version}: {what}; this format is not supported yet. " +
            "Only legacy version-0 fp32 checkpoints (export.py --version 0) can be loaded.");
    }

    private static LlamaWeights CreateWeights(MappedFile mapped, Llama2cLayout l, string path)
    {
        float* data = (float*)(mapped.Pointer + Llama2cLayout.HeaderBytes);
        WeightTensor At(long offset, int length) => new(data + offset, length);

        var layers = new LayerWeights[l.LayerCount];
        for (int i = 0; i < layers.Length; i++)
        {
            layers[i] = new LayerWeights
            {
                RmsAttention = At(l.RmsAtt + (long)i * l.Dim, l.Dim),
                Wq = At(l.Wq + (long)i * l.WqSize, l.WqSize),
                Wk = At(l.Wk + (long)i * l.WkSize, l.WkSize),
                Wv = At(l.Wv + (long)i * l.WkSize, l.WkSize),
                Wo = At(l.Wo + (long)i * l.WqSize, l.WqSize),
                RmsFfn = At(l.RmsFfn + (long)i * l.Dim, l.Dim),
                W1 = At(l.W1 + (long)i * l.FfnSize, l.FfnSize),
                W2 = At(l.W2 + (long)i * l.FfnSize, l.FfnSize),
                W3 = At(l.W3 + (long)i * l.FfnSize, l.FfnSize),
            };
        }
        return new LlamaWeights(l.ToConfig(), At(l.TokenEmbedding, l.EmbeddingSize), layers, At(l.RmsFinal, l.Dim),
            At(l.Classifier, l.EmbeddingSize), mapped, path);
    }

    private static InvalidDataException Invalid(string path, string message) => new($"{path}: {message}");
}
