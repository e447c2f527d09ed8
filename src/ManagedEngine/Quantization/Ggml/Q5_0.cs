using System.Buffers.Binary;
using MlPipelines.ManagedEngine.Formats.Gguf;
using static MlPipelines.ManagedEngine.Quantization.Ggml.GgmlScalars;

namespace MlPipelines.ManagedEngine.Quantization.Ggml;

/// <summary>
/// Q5_0, 22 bytes per 32 values: an fp16 scale <c>d</c>, a 32-bit little-endian word whose bit <c>i</c> is the
/// fifth (top) bit of value <c>i</c>'s code, then 16 bytes holding the codes' low four bits arranged as in
/// <see cref="Q4_0"/> (byte <c>j</c>: value <c>j</c> low, <c>j + 16</c> high). Codes <c>q</c> are 0…31; each
/// value is <c>d · (q − 16)</c>.
/// </summary>
/// <remarks>
/// As in <see cref="Q4_0"/>, the largest-magnitude value becomes code 0 (<c>d = that value / −16</c>) and
/// the other sign is clipped at code 31. Dot products pair it with <see cref="Q8_0"/> activations.
/// </remarks>
internal static class Q5_0
{
    /// <summary>The block shape.</summary>
    public static readonly GgmlBlockLayout Layout = GgmlBlockLayouts.Get(GgufTensorType.Q5_0);

    /// <summary>Quantises a row (a multiple of 32 values) into blocks, byte for byte as ggml's reference quantiser.</summary>
    public static void Quantize(ReadOnlySpan<float> x, Span<byte> blocks)
    {
        int count = Layout.BlockCount(x.Length, blocks.Length);
        for (int b = 0; b < count; b++)
            QuantizeBlock(x.Slice(b * 32, 32), blocks.Slice(b * Layout.Bytes, Layout.Bytes));
    }

    private static void QuantizeBlock(ReadOnlySpan<float> x, Span<byte> block)
    {
        float d = SignedAbsMax(x, out _) / -16f;
        float id = d != 0f ? 1f / d : 0f;
        WriteHalf(block, 0, d);
        uint high = 0;
        for (int j = 0; j < 16; j++)
        {
            int lo = Code(x[j] * id), hi = Code(x[j + 16] * id);
            block[6 + j] = (byte)((lo & 0xF) | (hi & 0xF) << 4);
            high |= (uint)(lo >> 4) << j | (uint)(hi >> 4) << (j + 16);
        }
        BinaryPrimitives.WriteUInt32LittleEndian(block[2..], high);
    }

    // The scaled value lies in about [−16, 16]: shift to [0.5, 32.5], truncate, clip the one value past 31.
    private static int Code(float scaled) => Math.Min(31, (int)(scaled + 16.5f));

    /// <summary>The 5-bit code of value <paramref name="i"/> (0…31) of a block.</summary>
    internal static int CodeAt(ReadOnlySpan<byte> block, uint high, int firstCodeByte, int i)
    {
        int nibble = i < 16 ? block[firstCodeByte + i] & 0xF : block[firstCodeByte + i - 16] >> 4;
        return nibble | (int)((high >> i) & 1) << 4;
    }

    /// <summary>Decodes blocks into values, with ggml's fp32 arithmetic (so the same bits).</summary>
    public static void Dequantize(ReadOnlySpan<byte> blocks, Span<float> y)
    {
        int count = Layout.BlockCount(y.Length, blocks.Length);
        for (int b = 0; b < count; b++)
        {
            ReadOnlySpan<byte> block = blocks.Slice(b * Layout.Bytes, Layout.Bytes);
            float d = ReadHalf(block, 0);
            uint high = BinaryPrimitives.ReadUInt32LittleEndian(block[2..]);
            for (int i = 0; i < 32; i++)
                y[b * 32 + i] = (CodeAt(block, high, 6, i) - 16) * d;
        }
    }

    /// <summary>
    /// The dot product of a Q5_0 row with a <see cref="Q8_0"/> row of <paramref name="n"/> values: per block an
    /// exact integer sum of code products, then <c>sum += (d_w · d_a) · isum</c> in fp32, block after block.
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
            uint high = BinaryPrimitives.ReadUInt32LittleEndian(w[2..]);
            int isum = 0;
            for (int i = 0; i < 32; i++)
                isum += (CodeAt(w, high, 6, i) - 16) * (sbyte)a[2 + i];
            sum += ReadHalf(w, 0) * ReadHalf(a, 0) * isum;
        }
        return sum;
    }
}
