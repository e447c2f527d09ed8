using MlPipelines.ManagedEngine.Formats.Gguf;
using static MlPipelines.ManagedEngine.Quantization.Ggml.GgmlScalars;

namespace MlPipelines.ManagedEngine.Quantization.Ggml;

/// <summary>
/// Q4_0, 18 bytes per 32 values: an fp16 scale <c>d</c>, then 16 bytes of 4-bit codes <c>q</c> in 0…15;
/// each value is <c>d · (q − 8)</c>. The codes are split by halves of the block: byte <c>j</c> carries value
/// <c>j</c> in its low nibble and value <c>j + 16</c> in its high nibble.
/// </summary>
/// <remarks>
/// The quantiser makes the block's largest-magnitude value exactly the code 0 (−8 after the offset), so
/// <c>d = that value / −8</c> carries its sign; values of the other sign reach at most code 15 (+7), the
/// one clipped step. Dot products pair it with <see cref="Q8_0"/> activations.
/// </remarks>
internal static class Q4_0
{
    /// <summary>The block shape.</summary>
    public static readonly GgmlBlockLayout Layout = GgmlBlockLayouts.Get(GgufTensorType.Q4_0);

    /// <summary>Quantises a row (a multiple of 32 values) into blocks, byte for byte as ggml's reference quantiser.</summary>
    public static void Quantize(ReadOnlySpan<float> x, Span<byte> blocks)
    {
        int count = Layout.BlockCount(x.Length, blocks.Length);
        for (int b = 0; b < count; b++)
            QuantizeBlock(x.Slice(b * 32, 32), blocks.Slice(b * Layout.Bytes, Layout.Bytes));
    }

    private static void QuantizeBlock(ReadOnlySpan<float> x, Span<byte> block)
    {
        float d = SignedAbsMax(x, out _) / -8f;
        float id = d != 0f ? 1f / d : 0f;
        WriteHalf(block, 0, d);
        for (int j = 0; j < 16; j++)
            block[2 + j] = (byte)(Code(x[j] * id) | Code(x[j + 16] * id) << 4);
    }

    // The scaled value lies in about [−8, 8]: shift it to [0.5, 16.5], truncate, and clip the one value past 15.
    private static int Code(float scaled) => Math.Min(15, (int)(scaled + 8.5f));

    /// <summary>Decodes blocks into values, with ggml's fp32 arithmetic (so the same bits).</summary>
    public static void Dequantize(ReadOnlySpan<byte> blocks, Span<float> y)
    {
        int count = Layout.BlockCount(y.Length, blocks.Length);
        for (int b = 0; b < count; b++)
        {
            ReadOnlySpan<byte> block = blocks.Slice(b * Layout.Bytes, Layout.Bytes);
            Span<float> v = y.Slice(b * 32, 32);
            float d = ReadHalf(block, 0);
            for (int j = 0; j < 16; j++)
            {
                v[j] = ((block[2 + j] & 0xF) - 8) * d;
                v[j + 16] = ((block[2 + j] >> 4) - 8) * d;
            }
        }
    }

    /// <summary>
    /// The dot product of a Q4_0 row with a <see cref="Q8_0"/> row of <paramref name="n"/> values: per block an
    /// exact integer sum of code products, then <c>sum += (isum · d_w) · d_a</c> in fp32, block after block.
    /// </summary>
    public static float Dot(ReadOnlySpan<byte> weights, ReadOnlySpan<byte> activations, int n)
    {
        int count = Layout.BlockCount(n, weights.Length);
        Q8_0.Layout.BlockCount(n, activations.Length);
        float sum = 0f;
        for (int b = 0; b < count; b++)
        {
            ReadOnlySpan<byte> w = weights.Slice(b * Layout.Bytes, Layout.Bytes);
            ReadOnlySpan<byte> a = activations.Slice(b * Q8_0.Layout.Bytes, Q8_0.Layout.Bytes);
            int isum = 0;
            for (int j = 0; j < 16; j++)
                isum += ((w[2 + j] & 0xF) - 8) * (sbyte)a[2 + j] + ((w[2 + j] >> 4) - 8) * (sbyte)a[2 + 16 + j];
            // The order of the two fp32 multiplications is ggml's (Q5_0 and Q8_0 multiply the scales first).
            sum += isum * ReadHalf(w, 0) * ReadHalf(a, 0);
        }
        return sum;
    }
}
