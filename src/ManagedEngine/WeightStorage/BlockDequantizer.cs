using MlPipelines.ManagedEngine.Formats.Gguf;
using MlPipelines.ManagedEngine.Quantization.Ggml;

namespace MlPipelines.ManagedEngine.WeightStorage;

/// <summary>Block rows to fp32 exactly as ggml's <c>dequantize_row_*</c> (embedding lookups, conversions to fp32).</summary>
internal static unsafe class BlockDequantizer
{
    public static void Row(WeightFormat format, byte* row, int cols, Span<float> destination) =>
        GgmlReference.Dequantize(ToGguf(format), new ReadOnlySpan<byte>(row, checked((int)WeightFormats.RowBytes(format, cols))), destination[..cols]);

    private static GgufTensorType ToGguf(WeightFormat format) => format switch
    {
        WeightFormat.Q8_0 => GgufTensorType.Q8_0,
        WeightFormat.Q4_0 => GgufTensorType.Q4_0,
        WeightFormat.Q4_1 => GgufTensorType.Q4_1,
        WeightFormat.Q5_0 => GgufTensorType.Q5_0,
        WeightFormat.Q5_1 => GgufTensorType.Q5_1,
        WeightFormat.Q4_K => GgufTensorType.Q4_K,
        WeightFormat.Q5_K => GgufTensorType.Q5_K,
        WeightFormat.Q6_K => GgufTensorType.Q6_K,
        _ => throw new ArgumentOutOfRangeException(nameof(format), $"{format} is not a block format."),
    };
}
