using System.Runtime.InteropServices;

namespace MlPipelines.ManagedEngine.Formats.Gguf;

/// <summary>
/// Encodes fp32 rows as a ggml tensor type, a row at a time (memory use independent of the matrix size); block types
/// through ggml's reference quantisers (<see cref="Quantization.Ggml.GgmlReference"/>), so the bytes are llama.cpp's.
/// </summary>
internal static class GgmlRows
{
    /// <summary>Bytes of one row of <paramref name="cols"/> values.</summary>
    public static long RowBytes(GgufTensorType type, int cols) => type switch
    {
        GgufTensorType.F32 => cols * 4L,
        GgufTensorType.F16 or GgufTensorType.BF16 => cols * 2L,
        _ => WeightStorage.WeightFormats.FromGguf(type) is { } f ? WeightStorage.WeightFormats.RowBytes(f, cols)
            : throw new NotSupportedException($"Tensors of type {type} cannot be written."),
    };

    public static void Write(Stream s, ReadOnlySpan<float> matrix, int rows, int cols, GgufTensorType type)
    {
        if (type == GgufTensorType.F32)
        {
            s.Write(MemoryMarshal.AsBytes(matrix));
            return;
        }
        var halves = new ushort[cols];
        var encoded = new byte[RowBytes(type, cols)];
        for (int r = 0; r < rows; r++)
        {
            ReadOnlySpan<float> row = matrix.Slice(r * cols, cols);
            switch (type)
            {
                case GgufTensorType.F16:
                    HalfPrecision.NarrowToF16(row, halves);
                    s.Write(MemoryMarshal.AsBytes(halves.AsSpan()));
                    break;
                case GgufTensorType.BF16:
                    HalfPrecision.NarrowToBf16(row, halves);
                    s.Write(MemoryMarshal.AsBytes(halves.AsSpan()));
                    break;
                default:
                    Quantization.Ggml.GgmlReference.Quantize(type, row, encoded);
                    s.Write(encoded);
                    break;
            }
        }
    }
}
