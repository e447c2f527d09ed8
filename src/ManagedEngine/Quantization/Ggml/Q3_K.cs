using MlPipelines.ManagedEngine.Formats.Gguf;
using static MlPipelines.ManagedEngine.Quantization.Ggml.GgmlScalars;

namespace MlPipelines.ManagedEngine.Quantization.Ggml;

/// <summary>
/// Q3_K, 110 bytes per super-block of 256 values: 32 bytes of high bits, 64 bytes of low two-bit pairs, 12 bytes
/// packing sixteen 6-bit scales <c>s_g</c> (one per 16 values, see <see cref="KScales"/>), and an fp16
/// <c>d</c>. Codes <c>q</c> are 0…7; value <c>i</c> of group <c>g</c> is <c>(d · (s_g − 32)) · (q_i − 4)</c>.
/// </summary>
/// <remarks>
/// The low two bits are packed as in <see cref="Q2_K"/>; the third bit of value <c>i</c> is bit <c>i / 32</c> of
/// high-bit byte <c>i % 32</c>. Quantising fits each group with <see cref="KQuantSearch.FitSymmetricRefined"/>,
/// stores the scales as 6-bit multiples of <c>d</c> with the largest-magnitude one at −32, and re-derives the
/// codes from the stored scales. Dot products pair it with <see cref="Q8_K"/>.
/// </remarks>
internal static class Q3_K
{
    /// <summary>The block shape.</summary>
    public static readonly GgmlBlockLayout Layout = GgmlBlockLayouts.Get(GgufTensorType.Q3_K);

    private const int LowBitsOffset = 32;
    private const int ScalesOffset = 96;
    private const int ScaleOffset = 108;

    /// <summary>Quantises a row (a multiple of 256 values) into blocks, byte for byte as ggml's reference quantiser.</summary>
    public static void Quantize(ReadOnlySpan<float> x, Span<byte> blocks)
    {
        int count = Layout.BlockCount(x.Length, blocks.Length);
        Span<sbyte> codes = stackalloc sbyte[256];
        Span<float> scales = stackalloc float[16];
        Span<byte> scaleCodes = stackalloc byte[16];
        Span<byte> lowBits = stackalloc byte[256];
        for (int b = 0; b < count; b++)
        {
            ReadOnlySpan<float> v = x.Slice(b * 256, 256);
            Span<byte> block = blocks.Slice(b * Layout.Bytes, Layout.Bytes);
            float maxScale = 0, absMax = 0;
            for (int g = 0; g < 16; g++)
            {
                scales[g] = KQuantSearch.FitSymmetricRefined(v.Slice(16 * g, 16), 4, codes.Slice(16 * g, 16));
                float abs = MathF.Abs(scales[g]);
                if (abs > absMax)
                {
                    absMax = abs;
                    maxScale = scales[g];
                }
            }

            if (maxScale != 0)
            {
                float iscale = -32f / maxScale;
                for (int g = 0; g < 16; g++)
                    scaleCodes[g] = (byte)(Math.Clamp((int)(sbyte)NearestInt(iscale * scales[g]), -32, 31) + 32);
                KScales.WriteSixteen(scaleCodes, block.Slice(ScalesOffset, 12));
                WriteHalf(block, ScaleOffset, 1 / iscale);
            }
            else
            {
                block.Slice(ScalesOffset, 12).Clear();
                WriteHalf(block, ScaleOffset, 0f);
            }

            float d = ReadHalf(block, ScaleOffset);
            for (int g = 0; g < 16; g++)
            {
                float step = d * (KScales.ReadSixteen(block.Slice(ScalesOffset, 12), g) - 32);
                if (step == 0) continue;
                for (int i = 16 * g; i < 16 * g + 16; i++)
                    codes[i] = (sbyte)(Math.Clamp(NearestInt(v[i] / step), -4, 3) + 4);
            }

            // Third bits into the high-bit bytes, the rest as two-bit codes.
            Span<byte> highBits = block[..32];
            highBits.Clear();
            for (int i = 0; i < 256; i++)
            {
                int code = codes[i];
                if (code > 3)
                {
                    highBits[i % 32] |= (byte)(1 << (i / 32));
                    code -= 4;
                }
                lowBits[i] = (byte)code;
            }
            Q2_K.PackTwoBit(lowBits, block.Slice(LowBitsOffset, 64));
        }
    }

    /// <summary>Code <paramref name="i"/> of a block, already shifted to −4…3.</summary>
    private static int SignedCode(ReadOnlySpan<byte> block, int i)
    {
        int low = Q2_K.TwoBitCode(block.Slice(LowBitsOffset, 64), i);
        bool high = (block[i % 32] >> (i / 32) & 1) != 0;
        return low - (high ? 0 : 4);
    }

    /// <summary>Decodes blocks into values, with ggml's fp32 arithmetic (so the same bits).</summary>
    public static void Dequantize(ReadOnlySpan<byte> blocks, Span<float> y)
    {
        int count = Layout.BlockCount(y.Length, blocks.Length);
        for (int b = 0; b < count; b++)
        {
            ReadOnlySpan<byte> block = blocks.Slice(b * Layout.Bytes, Layout.Bytes);
            float d = ReadHalf(block, ScaleOffset);
            for (int g = 0; g < 16; g++)
            {
                float step = d * (KScales.ReadSixteen(block.Slice(ScalesOffset, 12), g) - 32);
                for (int i = 16 * g; i < 16 * g + 16; i++)
                    y[b * 256 + i] = step * SignedCode(block, i);
            }
        }
    }

    /// <summary>
    /// The dot product of a Q3_K row with a <see cref="Q8_K"/> row of <paramref name="n"/> values, in the order of
    /// ggml's generic code: as <see cref="Q6_K.Dot"/>, eight int32 lanes per super-block scaled by
    /// <c>d · d_a</c> into eight fp32 lane totals, summed in lane order at the end.
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
            for (int i = 0; i < 256; i++)
                codes[i] = SignedCode(w, i);
            for (int g = 0; g < 16; g++)
                scales[g] = KScales.ReadSixteen(w.Slice(ScalesOffset, 12), g) - 32;
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
