using MlPipelines.ManagedEngine.Formats.Gguf;
using static MlPipelines.ManagedEngine.Quantization.Ggml.GgmlScalars;

namespace MlPipelines.ManagedEngine.Quantization.Ggml;

/// <summary>
/// Q6_K, 210 bytes per super-block of 256 values: 128 bytes of low nibbles, 64 bytes of two-bit tops, 16 int8
/// sub-block scales <c>s_g</c> (one per 16 values) and an fp16 <c>d</c>, in that order. Codes <c>q</c> are
/// 0…63; value <c>i</c> is <c>(d · s_(i/16)) · (q_i − 32)</c>.
/// </summary>
/// <remarks>
/// Each half of 128 values uses 64 nibble bytes and 32 top bytes. Within half <c>h</c>, take <c>l</c> in 0…31:
/// nibble byte <c>64h + l</c> holds value <c>128h + l</c> (low nibble) and <c>128h + 64 + l</c> (high nibble),
/// nibble byte <c>64h + 32 + l</c> holds <c>128h + 32 + l</c> and <c>128h + 96 + l</c>, and top byte
/// <c>32h + l</c> holds the upper two bits of values <c>128h + l</c>, <c>+32</c>, <c>+64</c>, <c>+96</c> in its bit
/// pairs 0–1, 2–3, 4–5, 6–7. Quantising fits each group of 16 with <see cref="KQuantSearch.FitSymmetric"/>,
/// stores the scales as int8 multiples of <c>d</c> with the largest-magnitude one at −128, and re-derives the
/// codes from the stored scales. Dot products pair it with <see cref="Q8_K"/>.
/// </remarks>
internal static class Q6_K
{
    /// <summary>The block shape.</summary>
    public static readonly GgmlBlockLayout Layout = GgmlBlockLayouts.Get(GgufTensorType.Q6_K);

    private const int TopsOffset = 128;
    private const int ScalesOffset = 192;
    private const int ScaleOffset = 208;

    /// <summary>Quantises a row (a multiple of 256 values) into blocks, byte for byte as ggml's reference quantiser.</summary>
    public static void Quantize(ReadOnlySpan<float> x, Span<byte> blocks)
    {
        int count = Layout.BlockCount(x.Length, blocks.Length);
        Span<sbyte> codes = stackalloc sbyte[256];
        Span<float> scales = stackalloc float[16];
        for (int b = 0; b < count; b++)
        {
            ReadOnlySpan<float> v = x.Slice(b * 256, 256);
            Span<byte> block = blocks.Slice(b * Layout.Bytes, Layout.Bytes);
            float maxScale = 0, maxAbsScale = 0;
            for (int g = 0; g < 16; g++)
            {
                scales[g] = KQuantSearch.FitSymmetric(v.Slice(16 * g, 16), 32, codes.Slice(16 * g, 16));
                float abs = MathF.Abs(scales[g]);
                if (abs > maxAbsScale)
                {
                    maxAbsScale = abs;
                    maxScale = scales[g];
                }
            }
            if (maxAbsScale < KQuantSearch.GroupMaxEps)
            {
                block.Clear();
                continue;
            }

            float iscale = -128f / maxScale;
            WriteHalf(block, ScaleOffset, 1 / iscale);
            for (int g = 0; g < 16; g++)
                block[ScalesOffset + g] = (byte)(sbyte)Math.Min(127, NearestInt(iscale * scales[g]));
            float d = ReadHalf(block, ScaleOffset);
            for (int g = 0; g < 16; g++)
            {
                float step = d * (sbyte)block[ScalesOffset + g];
                if (step == 0) continue;
                for (int i = 16 * g; i < 16 * g + 16; i++)
                    codes[i] = (sbyte)(Math.Clamp(NearestInt(v[i] / step), -32, 31) + 32);
            }
            Pack(codes, block);
        }
    }

    private static void Pack(ReadOnlySpan<sbyte> codes, Span<byte> block)
    {
        for (int h = 0; h < 2; h++)
            for (int l = 0; l < 32; l++)
            {
                int c0 = codes[128 * h + l], c1 = codes[128 * h + 32 + l], c2 = codes[128 * h + 64 + l], c3 = codes[128 * h + 96 + l];
                block[64 * h + l] = (byte)((c0 & 0xF) | (c2 & 0xF) << 4);
                block[64 * h + 32 + l] = (byte)((c1 & 0xF) | (c3 & 0xF) << 4);
                block[TopsOffset + 32 * h + l] = (byte)((c0 >> 4) | (c1 >> 4) << 2 | (c2 >> 4) << 4 | (c3 >> 4) << 6);
            }
    }

    /// <summary>The 256 codes of a block, already shifted to −32…31.</summary>
    private static void ReadCodes(ReadOnlySpan<byte> block, Span<int> codes)
    {
        for (int h = 0; h < 2; h++)
            for (int l = 0; l < 32; l++)
            {
                int low = block[64 * h + l], high = block[64 * h + 32 + l], tops = block[TopsOffset + 32 * h + l];
                codes[128 * h + l] = ((low & 0xF) | (tops & 3) << 4) - 32;
                codes[128 * h + 32 + l] = ((high & 0xF) | ((tops >> 2) & 3) << 4) - 32;
                codes[128 * h + 64 + l] = ((low >> 4) | ((tops >> 4) & 3) << 4) - 32;
                codes[128 * h + 96 + l] = ((high >> 4) | ((tops >> 6) & 3) << 4) - 32;
            }
    }

    /// <summary>Decodes blocks into values, with ggml's fp32 arithmetic (so the same bits).</summary>
    public static void Dequantize(ReadOnlySpan<byte> blocks, Span<float> y)
    {
        int count = Layout.BlockCount(y.Length, blocks.Length);
        Span<int> codes = stackalloc int[256];
        for (int b = 0; b < count; b++)
        {
            ReadOnlySpan<byte> block = blocks.Slice(b * Layout.Bytes, Layout.Bytes);
            ReadCodes(block, codes);
            float d = ReadHalf(block, ScaleOffset);
            for (int i = 0; i < 256; i++)
                y[b * 256 + i] = d * (sbyte)block[ScalesOffset + i / 16] * codes[i];
        }
    }

    /// <summary>
    /// The dot product of a Q6_K row with a <see cref="Q8_K"/> row of <paramref name="n"/> values, in the order of
    /// ggml's generic code: scaled code products go into eight int32 lanes per super-block
    /// (<see cref="Q8_K.AccumulateLanes"/>), which are multiplied by <c>d · d_a</c> and added into eight fp32 lane
    /// totals; the totals are summed in lane order at the end.
    /// </summary>
    public static float Dot(ReadOnlySpan<byte> weights, ReadOnlySpan<byte> activations, int n)
    {
        int count = Layout.BlockCount(n, weights.Length);
        Q8_K.Layout.BlockCount(n, activations.Length);
        Span<int> codes = stackalloc int[256];
        Span<int> scales = stackalloc int[16];
        Span<int> lanes = stackalloc int[8];
        Span<float> laneTotals = stackalloc float[8];
        laneTotals.Clear();
        for (int b = 0; b < count; b++)
        {
            ReadOnlySpan<byte> w = weights.Slice(b * Layout.Bytes, Layout.Bytes);
            ReadOnlySpan<byte> a = activations.Slice(b * Q8_K.Layout.Bytes, Q8_K.Layout.Bytes);
            ReadCodes(w, codes);
            for (int g = 0; g < 16; g++)
                scales[g] = (sbyte)w[ScalesOffset + g];
            Q8_K.AccumulateLanes(codes, scales, 16, a, lanes);
            float d = ReadHalf(w, ScaleOffset) * Q8_K.Scale(a);
            for (int l = 0; l < 8; l++)
                laneTotals[l] += d * lanes[l];
        }
        float sum = 0;
        for (int l = 0; l < 8; l++)
            sum += laneTotals[l];
        return sum;
    }
}
