using MlPipelines.ManagedEngine.Formats.Gguf;
using static MlPipelines.ManagedEngine.Quantization.Ggml.GgmlScalars;

namespace MlPipelines.ManagedEngine.Quantization.Ggml;

/// <summary>
/// Q4_1, 20 bytes per 32 values: an fp16 step <c>d</c>, an fp16 offset <c>m</c>, then 16 bytes of 4-bit codes
/// <c>q</c> in 0…15 arranged as in <see cref="Q4_0"/> (byte <c>j</c>: value <c>j</c> low, <c>j + 16</c> high);
/// each value is <c>d · q + m</c>.
/// </summary>
/// <remarks>
/// The quantiser maps the block's minimum to code 0 and its maximum to code 15 (<c>d = (max − min) / 15</c>,
/// <c>m = min</c>). Dot products pair it with <see cref="Q8_1"/> activations, whose stored sum lets the offset
/// be applied once per block.
/// </remarks>
internal static class Q4_1
{
    /// <summary>The block shape.</summary>
    public static readonly GgmlBlockLayout Layout = GgmlBlockLayouts.Get(GgufTensorType.Q4_1);

    /// <summary>Quantises a row (a multiple of 32 values) into blocks, byte for byte as ggml's reference quantiser.</summary>
    public static void Quantize(ReadOnlySpan<float> x, Span<byte> blocks)
    {
        int count = Layout.BlockCount(x.Length, blocks.Length);
        for (int b = 0; b < count; b++)
            QuantizeBlock(x.Slice(b * 32, 32), blocks.Slice(b * Layout.Bytes, Layout.Bytes));
    }

    private static void QuantizeBlock(ReadOnlySpan<float> x, Span<byte> block)
    {
        (float min, float max) = MinMax(x);
        float d = (max - min) / 15f;
        float id = d != 0f ? 1f / d : 0f;
        WriteHalf(block, 0, d);
        WriteHalf(block, 2, min);
        for (int j = 0; j < 16; j++)
            block[4 + j] = (byte)(Code((x[j] - min) * id) | Code((x[j + 16] - min) * id) << 4);
    }

    // The scaled value lies in [0, 15]: round half up by truncating value + 0.5.
    private static int Code(float scaled) => Math.Min(15, (int)(scaled + 0.5f));

    /// <summary>
    /// The block's smallest and largest values, scanning from +/−float.MaxValue with strict comparisons (so among
    /// equal values, such as 0 and −0, the first one wins; the minimum is stored).
    /// </summary>
    internal static (float Min, float Max) MinMax(ReadOnlySpan<float> x)
    {
        float min = float.MaxValue, max = -float.MaxValue;
        foreach (float v in x)
        {
            if (v < min) min = v;
            if (v > max) max = v;
        }
        return (min, max);
    }

    /// <summary>Decodes blocks into values, with ggml's fp32 arithmetic (so the same bits).</summary>
    public static void Dequantize(ReadOnlySpan<byte> blocks, Span<float> y)
    {
        int count = Layout.BlockCount(y.Length, blocks.Length);
        for (int b = 0; b < count; b++)
        {
            ReadOnlySpan<byte> block = blocks.Slice(b * Layout.Bytes, Layout.Bytes);
            Span<float> v = y.Slice(b * 32, 32);
            float d = ReadHalf(block, 0), m = ReadHalf(block, 2);
            for (int j = 0; j < 16; j++)
            {
                v[j] = (block[4 + j] & 0xF) * d + m;
                v[j + 16] = (block[4 + j] >> 4) * d + m;
            }
        }
    }

    /// <summary>
    /// The dot product of a Q4_1 row with a <see cref="Q8_1"/> row of <paramref name="n"/> values. Per block:
    /// the exact integer sum of code products scaled by both steps, plus the weight offset times the
    /// activations' stored scaled sum, <c>sum += (d_w · d_a) · isum + m_w · s_a</c>, block after block.
    /// </summary>
    public static float Dot(ReadOnlySpan<byte> weights, ReadOnlySpan<byte> activations, int n)
    {
        int count = Layout.BlockCount(n, weights.Length);
        Q8_1.Layout.BlockCount(n, activations.Length);
        float sum = 0f;
        for (int b = 0; b < count; b++)
        {
            ReadOnlySpan<byte> w = weights.Slice(b * Layout.Bytes, Layout.Bytes);
            ReadOnlySpan<byte> a = activations.Slice(b * Q8_1.Layout.Bytes, Q8_1.Layout.Bytes);
            int isum = 0;
            for (int j = 0; j < 16; j++)
                isum += (w[4 + j] & 0xF) * (sbyte)a[4 + j] + (w[4 + j] >> 4) * (sbyte)a[4 + 16 + j];
            sum += ReadHalf(w, 0) * ReadHalf(a, 0) * isum + ReadHalf(w, 2) * ReadHalf(a, 2);
        }
        return sum;
    }
}
