using MlPipelines.ManagedEngine.Formats.Gguf;
using static MlPipelines.ManagedEngine.Quantization.Ggml.GgmlScalars;

namespace MlPipelines.ManagedEngine.Quantization.Ggml;

/// <summary>
/// Q2_K, 84 bytes per super-block of 256 values: 16 bytes of sub-block numbers (one per 16 values: the low
/// nibble is a 4-bit scale <c>s_g</c>, the high nibble a 4-bit minimum <c>m_g</c>), 64 bytes of 2-bit codes,
/// then an fp16 <c>d</c> and an fp16 <c>dmin</c>. Value <c>i</c> of group <c>g</c> is
/// <c>(d · s_g) · q_i − (dmin · m_g)</c>.
/// </summary>
/// <remarks>
/// The codes of each half of 128 values fill 32 bytes: value <c>128h + 32k + l</c> (k in 0…3, l in 0…31) is in
/// bits <c>2k</c>–<c>2k + 1</c> of byte <c>32h + l</c>. Quantising fits each group with
/// <see cref="KQuantSearch.FitScaleAndMin"/> (weights <c>|x|</c>, absolute error), stores the scales and
/// minimums as 4-bit fractions of the largest of each, and re-derives the codes from the stored values.
/// Dot products pair it with <see cref="Q8_K"/>.
/// </remarks>
internal static class Q2_K
{
    /// <summary>The block shape.</summary>
    public static readonly GgmlBlockLayout Layout = GgmlBlockLayouts.Get(GgufTensorType.Q2_K);

    private const int CodesOffset = 16;
    private const int ScaleOffset = 80;
    private const int MinScaleOffset = 82;

    /// <summary>Quantises a row (a multiple of 256 values) into blocks, byte for byte as ggml's reference quantiser.</summary>
    public static void Quantize(ReadOnlySpan<float> x, Span<byte> blocks)
    {
        int count = Layout.BlockCount(x.Length, blocks.Length);
        Span<byte> codes = stackalloc byte[256];
        Span<float> weights = stackalloc float[16];
        Span<float> scales = stackalloc float[16];
        Span<float> mins = stackalloc float[16];
        for (int b = 0; b < count; b++)
        {
            ReadOnlySpan<float> v = x.Slice(b * 256, 256);
            Span<byte> block = blocks.Slice(b * Layout.Bytes, Layout.Bytes);
            float maxScale = 0, maxMin = 0;
            for (int g = 0; g < 16; g++)
            {
                ReadOnlySpan<float> sub = v.Slice(16 * g, 16);
                for (int l = 0; l < 16; l++) weights[l] = MathF.Abs(sub[l]);
                scales[g] = KQuantSearch.FitScaleAndMin(sub, weights, 3, codes.Slice(16 * g, 16), out mins[g], -0.5f, 0.1f, 15, useMad: true);
                if (scales[g] > maxScale) maxScale = scales[g];
                if (mins[g] > maxMin) maxMin = mins[g];
            }

            block[..16].Clear();
            if (maxScale > 0)
            {
                float iscale = 15f / maxScale;
                for (int g = 0; g < 16; g++)
                    block[g] = (byte)NearestInt(iscale * scales[g]);
            }
            WriteHalf(block, ScaleOffset, maxScale > 0 ? maxScale / 15f : 0f);
            if (maxMin > 0)
            {
                float iscale = 15f / maxMin;
                for (int g = 0; g < 16; g++)
                    block[g] |= (byte)(NearestInt(iscale * mins[g]) << 4);
            }
            WriteHalf(block, MinScaleOffset, maxMin > 0 ? maxMin / 15f : 0f);

            float d = ReadHalf(block, ScaleOffset), dmin = ReadHalf(block, MinScaleOffset);
            for (int g = 0; g < 16; g++)
            {
                float step = d * (block[g] & 0xF);
                if (step == 0) continue;
                float offset = dmin * (block[g] >> 4);
                for (int i = 16 * g; i < 16 * g + 16; i++)
                    codes[i] = (byte)Math.Clamp(NearestInt((v[i] + offset) / step), 0, 3);
            }
            PackTwoBit(codes, block.Slice(CodesOffset, 64));
        }
    }

    /// <summary>Packs 256 two-bit codes as Q2_K and Q3_K store them (see the remarks of <see cref="Q2_K"/>).</summary>
    internal static void PackTwoBit(ReadOnlySpan<byte> codes, Span<byte> packed)
    {
        for (int h = 0; h < 2; h++)
            for (int l = 0; l < 32; l++)
                packed[32 * h + l] = (byte)(codes[128 * h + l] | codes[128 * h + 32 + l] << 2
                    | codes[128 * h + 64 + l] << 4 | codes[128 * h + 96 + l] << 6);
    }

    /// <summary>The two-bit code of value <paramref name="i"/> (0…255) from 64 packed bytes.</summary>
    internal static int TwoBitCode(ReadOnlySpan<byte> packed, int i) =>
        (packed[32 * (i / 128) + i % 32] >> (2 * (i % 128 / 32))) & 3;

    /// <summary>Decodes blocks into values, with ggml's fp32 arithmetic (so the same bits).</summary>
    public static void Dequantize(ReadOnlySpan<byte> blocks, Span<float> y)
    {
        int count = Layout.BlockCount(y.Length, blocks.Length);
        for (int b = 0; b < count; b++)
        {
            ReadOnlySpan<byte> block = blocks.Slice(b * Layout.Bytes, Layout.Bytes);
            float d = ReadHalf(block, ScaleOffset), dmin = ReadHalf(block, MinScaleOffset);
            for (int g = 0; g < 16; g++)
            {
                float step = d * (block[g] & 0xF), offset = dmin * (block[g] >> 4);
                for (int i = 16 * g; i < 16 * g + 16; i++)
                    y[b * 256 + i] = step * TwoBitCode(block.Slice(CodesOffset, 64), i) - offset;
            }
        }
    }

    /// <summary>
    /// The dot product of a Q2_K row with a <see cref="Q8_K"/> row of <paramref name="n"/> values, in the order of
    /// ggml's generic code: per super-block, exact integer sums <c>Σ_g s_g · Σ code_w · code_a</c> and
    /// <c>Σ_g m_g · sum_g</c> (the activations' stored group sums), then
    /// <c>total += (d_a · d) · isum − (d_a · dmin) · msum</c> in fp32.
    /// </summary>
    public static float Dot(ReadOnlySpan<byte> weights, ReadOnlySpan<byte> activations, int n)
    {
        int count = Layout.BlockCount(n, weights.Length);
        Q8_K.Layout.BlockCount(n, activations.Length);
        float sum = 0;
        for (int b = 0; b < count; b++)
        {
            ReadOnlySpan<byte> w = weights.Slice(b * Layout.Bytes, Layout.Bytes);
            ReadOnlySpan<byte> a = activations.Slice(b * Q8_K.Layout.Bytes, Q8_K.Layout.Bytes);
            int minSum = 0, isum = 0;
            for (int g = 0; g < 16; g++)
            {
                minSum += Q8_K.GroupSum(a, g) * (w[g] >> 4);
                int groupSum = 0;
                for (int i = 16 * g; i < 16 * g + 16; i++)
                    groupSum += Q8_K.Code(a, i) * TwoBitCode(w.Slice(CodesOffset, 64), i);
                isum += (w[g] & 0xF) * groupSum;
            }
            float d = Q8_K.Scale(a) * ReadHalf(w, ScaleOffset);
            float dmin = Q8_K.Scale(a) * ReadHalf(w, MinScaleOffset);
            sum += d * isum - dmin * minSum;
        }
        return sum;
    }
}
