using System.Buffers.Binary;
using MlPipelines.ManagedEngine.Formats.Gguf;
using static MlPipelines.ManagedEngine.Quantization.Ggml.GgmlScalars;

namespace MlPipelines.ManagedEngine.Quantization.Ggml;

/// <summary>
/// Q5_1, 24 bytes per 32 values: an fp16 step <c>d</c>, an fp16 offset <c>m</c>, the 32-bit word of fifth bits
/// and the 16 bytes of low nibbles laid out as in <see cref="Q5_0"/>. Codes <c>q</c> are 0…31; each value is
/// <c>d · q + m</c>.
/// </summary>
/// <remarks>
/// The quantiser maps the minimum to code 0 and the maximum to 31 (<c>d = (max − min) / 31</c>,
/// <c>m = min</c>). Dot products pair it with <see cref="Q8_1"/> activations.
/// </remarks>
internal static class Q5_1
{
    /// <summary>The block shape.</summary>
    public static readonly GgmlBlockLayout Layout = GgmlBlockLayouts.Get(GgufTensorType.Q5_1);

    /// <summary>Quantises a row (a multiple of 32 values) into blocks, byte for byte as ggml's reference quantiser.</summary>
    public static void Quantize(ReadOnlySpan<float> x, Span<byte> blocks)
    {
        int count = Layout.BlockCount(x.Length, blocks.Length);
        for (int b = 0; b < count; b++)
            QuantizeBlock(x.Slice(b * 32, 32), blocks.Slice(b * Layout.Bytes, Layout.Bytes));
    }

    private static void QuantizeBlock(ReadOnlySpan<float> x, Span<byte> block)
    {
        (float min, float max) = Q4_1.MinMax(x);
        float d = (max - min) / 31f;
        float id = d != 0f ? 1f / d : 0f;
        WriteHalf(block, 0, d);
        WriteHalf(block, 2, min);
        uint high = 0;
        for (int j = 0; j < 16; j++)
        {
            // The scaled value lies in [0, 31]: round half up by truncation; unlike Q4_1 ggml does not clip here.
            int lo = (int)((x[j] - min) * id + 0.5f), hi = (int)((x[j + 16] - min) * id + 0.5f);
            block[8 + j] = (byte)((lo & 0xF) | (hi & 0xF) << 4);
            high |= (uint)((lo >> 4) & 1) << j | (uint)((hi >> 4) & 1) << (j + 16);
        }
        BinaryPrimitives.WriteUInt32LittleEndian(block[4..], high);
    }

    /// <summary>Decodes blocks into values, with ggml's fp32 arithmetic (so the same bits).</summary>
    public static void Dequantize(ReadOnlySpan<byte> blocks, Span<float> y)
    {
        int count = Layout.BlockCount(y.Length, blocks.Length);
        for (int b = 0; b < count; b++)
        {
            ReadOnlySpan<byte> block = blocks.Slice(b * Layout.Bytes, Layout.Bytes);
            float d = ReadHalf(block, 0), m = ReadHalf(block, 2);
            uint high = BinaryPrimitives.ReadUInt32LittleEndian(block[4..]);
            for (int i = 0; i < 32; i++)
                y[b * 32 + i] = Q5_0.CodeAt(block, high, 8, i) * d + m;
        }
    }

    /// <summary>
    /// The dot product of a Q5_1 row with a <see cref="Q8_1"/> row of <paramref name="n"/> values:
    /// <c>sum += (d_w · d_a) · isum + m_w · s_a</c> per block, as for <see cref="Q4_1"/>.
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
            uint high = BinaryPrimitives.ReadUInt32LittleEndian(w[4..]);
            int isum = 0;
            for (int i = 0; i < 32; i++)
                isum += Q5_0.CodeAt(w, high, 8, i) * (sbyte)a[4 + i];
            sum += ReadHalf(w, 0) * ReadHalf(a, 0) * isum + ReadHalf(w, 2) * ReadHalf(a, 2);
        }
        return sum;
    }
}
