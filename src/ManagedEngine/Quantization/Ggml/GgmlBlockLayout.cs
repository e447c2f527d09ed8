using MlPipelines.ManagedEngine.Formats.Gguf;

namespace MlPipelines.ManagedEngine.Quantization.Ggml;

/// <summary>
/// The storage shape of one ggml block format: a row of <c>n</c> values is stored as <c>n / Elements</c>
/// consecutive blocks of <see cref="Bytes"/> bytes each, with nothing between blocks and no row header.
/// </summary>
/// <param name="Elements">Values one block holds.</param>
/// <param name="Bytes">Bytes one block occupies.</param>
internal readonly record struct GgmlBlockLayout(int Elements, int Bytes)
{
    /// <summary>Bytes of a row of <paramref name="n"/> values (which must be a whole number of blocks).</summary>
    public int RowBytes(int n)
    {
        if (n < 0 || n % Elements != 0)
            throw new ArgumentException($"A row of {n} values is not a whole number of {Elements}-value blocks.", nameof(n));
        return n / Elements * Bytes;
    }

    /// <summary>
    /// The number of blocks in a row of <paramref name="values"/> values, checking that the row is whole blocks and
    /// that a buffer of <paramref name="bytes"/> bytes holds at least that many blocks.
    /// </summary>
    public int BlockCount(int values, int bytes)
    {
        int rowBytes = RowBytes(values);
        if (bytes < rowBytes)
            throw new ArgumentException($"{values} values need {rowBytes} bytes of blocks; the buffer has {bytes}.");
        return values / Elements;
    }
}

/// <summary>
/// Block sizes of the ggml formats this folder implements, keyed by their GGUF type number. Two block
/// lengths exist: the original formats group 32 values (<see cref="QK"/>), the k-quants group 256 values into
/// a super-block (<see cref="QK_K"/>) that is subdivided into 16 or 8 sub-blocks with their own small scales.
/// </summary>
internal static class GgmlBlockLayouts
{
    /// <summary>Values per block of Q4_0, Q4_1, Q5_0, Q5_1, Q8_0 and Q8_1.</summary>
    public const int QK = 32;

    /// <summary>Values per super-block of the k-quants (Q2_K … Q6_K and Q8_K).</summary>
    public const int QK_K = 256;

    /// <summary>The layout of <paramref name="type"/>, or false if this folder does not implement it.</summary>
    public static bool TryGet(GgufTensorType type, out GgmlBlockLayout layout)
    {
        layout = type switch
        {
            // fp16 scale + 32 four-bit values.
            GgufTensorType.Q4_0 => new(QK, 2 + QK / 2),
            // fp16 scale, fp16 minimum + 32 four-bit values.
            GgufTensorType.Q4_1 => new(QK, 2 + 2 + QK / 2),
            // fp16 scale + 32 fifth bits + 32 four-bit values.
            GgufTensorType.Q5_0 => new(QK, 2 + 4 + QK / 2),
            // fp16 scale, fp16 minimum + 32 fifth bits + 32 four-bit values.
            GgufTensorType.Q5_1 => new(QK, 2 + 2 + 4 + QK / 2),
            // fp16 scale + 32 int8.
            GgufTensorType.Q8_0 => new(QK, 2 + QK),
            // fp16 scale, fp16 scaled sum + 32 int8 (two halves: ggml's block_q8_1 is 36 bytes, not gguf-py's 40).
            GgufTensorType.Q8_1 => new(QK, 2 + 2 + QK),
            // 16 packed scale/min bytes + 256 two-bit values + fp16 scale and minimum scale.
            GgufTensorType.Q2_K => new(QK_K, QK_K / 16 + QK_K / 4 + 2 + 2),
            // 256 high bits + 256 two-bit values + 12 bytes of 6-bit scales + fp16 scale.
            GgufTensorType.Q3_K => new(QK_K, QK_K / 8 + QK_K / 4 + 12 + 2),
            // fp16 scale and minimum scale + 12 bytes of 6-bit scales/mins + 256 four-bit values.
            GgufTensorType.Q4_K => new(QK_K, 2 + 2 + 12 + QK_K / 2),
            // as Q4_K plus 256 fifth bits.
            GgufTensorType.Q5_K => new(QK_K, 2 + 2 + 12 + QK_K / 8 + QK_K / 2),
            // 256 low nibbles + 256 two-bit tops + 16 int8 scales + fp16 scale.
            GgufTensorType.Q6_K => new(QK_K, QK_K / 2 + QK_K / 4 + QK_K / 16 + 2),
            // fp32 scale + 256 int8 + 16 int16 group sums.
            GgufTensorType.Q8_K => new(QK_K, 4 + QK_K + QK_K / 16 * 2),
            _ => default,
        };
        return layout.Elements != 0;
    }

    /// <summary>The layout of <paramref name="type"/>; throws for a type this folder does not implement.</summary>
    public static GgmlBlockLayout Get(GgufTensorType type) =>
        TryGet(type, out GgmlBlockLayout layout) ? layout : throw new NotSupportedException($"No ggml reference layout for {type}.");
}
