using MlPipelines.ManagedEngine.Formats.Gguf;
using static MlPipelines.ManagedEngine.Quantization.Ggml.GgmlScalars;

namespace MlPipelines.ManagedEngine.Quantization.Ggml;

/// <summary>
/// Q8_0, 34 bytes per 32 values: an fp16 scale <c>d</c> and 32 int8 codes <c>q</c>; each value is <c>d · q</c>.
/// Both a weight format and the activation format that <see cref="Q4_0"/>, <see cref="Q5_0"/> and Q8_0 weights
/// are multiplied with.
/// </summary>
/// <remarks>
/// The quantiser sets <c>d = max|x| / 127</c> and <c>q = roundf(x · (1 / d))</c>, halves away from zero,
/// multiplying by the reciprocal of the fp32 <c>d</c> (not of the stored fp16 one). ggml's CPU backend
/// quantises activations with a SIMD version that multiplies by <c>127 / max|x|</c> and rounds halves to
/// even, so its bytes can differ from these in rare ties; this is the reference.
/// </remarks>
internal static class Q8_0
{
    /// <summary>The block shape.</summary>
    public static readonly GgmlBlockLayout Layout = GgmlBlockLayouts.Get(GgufTensorType.Q8_0);

    /// <summary>Quantises a row (a multiple of 32 values) into blocks, byte for byte as ggml's reference quantiser.</summary>
    public static void Quantize(ReadOnlySpan<float> x, Span<byte> blocks)
    {
        int count = Layout.BlockCount(x.Length, blocks.Length);
        for (int b = 0; b < count; b++)
        {
            ReadOnlySpan<float> v = x.Slice(b * 32, 32);
            Span<byte> block = blocks.Slice(b * Layout.Bytes, Layout.Bytes);
            SignedAbsMax(v, out float absMax);
            float d = absMax / 127f;
            float id = d != 0f ? 1f / d : 0f;
            WriteHalf(block, 0, d);
            for (int j = 0; j < 32; j++)
                block[2 + j] = (byte)(sbyte)RoundHalfAwayFromZero(v[j] * id);
        }
    }

    /// <summary>Decodes blocks into values, with ggml's fp32 arithmetic (so the same bits).</summary>
    public static void Dequantize(ReadOnlySpan<byte> blocks, Span<float> y)
    {
        int count = Layout.BlockCount(y.Length, blocks.Length);
        for (int b = 0; b < count; b++)
        {
            ReadOnlySpan<byte> block = blocks.Slice(b * Layout.Bytes, Layout.Bytes);
            float d = ReadHalf(block, 0);
            for (int j = 0; j < 32; j++)
                y[b * 32 + j] = (sbyte)block[2 + j] * d;
        }
    }

    /// <summary>
    /// The dot product of two Q8_0 rows of <paramref name="n"/> values: per block an exact integer sum of code
    /// products, then <c>sum += isum · (d_w · d_a)</c> in fp32, block after block.
    /// </summary>
    public static float Dot(ReadOnlySpan<byte> weights, ReadOnlySpan<byte> activations, int n)
    {
        int count = Layout.BlockCount(n, weights.Length);
        Layout.BlockCount(n, activations.Length);
        float sum = 0f;
        for (int b = 0; b < count; b++)
        {
            ReadOnlySpan<byte> w = weights.Slice(b * Layout.Bytes, Layout.Bytes);
            ReadOnlySpan<byte> a = activations.Slice(b * Layout.Bytes, Layout.Bytes);
            int isum = 0;
            for (int j = 0; j < 32; j++)
                isum += (sbyte)w[2 + j] * (sbyte)a[2 + j];
            sum += isum * (ReadHalf(w, 0) * ReadHalf(a, 0));
        }
        return sum;
    }
}
