using static MlPipelines.ManagedEngine.Quantization.Ggml.GgmlScalars;

namespace MlPipelines.ManagedEngine.Quantization.Ggml;

/// <summary>Reads the 256 integer codes of one k-quant super-block.</summary>
internal delegate void KCodeReader(ReadOnlySpan<byte> block, Span<int> codes);

/// <summary>
/// What <see cref="Q4_K"/> and <see cref="Q5_K"/> share: both start with an fp16 <c>d</c>, an fp16 <c>dmin</c>
/// and 12 bytes of eight 6-bit (scale, minimum) pairs (see <see cref="KScales"/>), and both decode value
/// <c>i</c> of sub-block <c>j</c> (32 values each) as <c>(d · s_j) · q_i − (dmin · m_j)</c>. Only the code
/// width and its packing differ.
/// </summary>
internal static class KQuantAffine
{
    private const int PairsOffset = 4;

    /// <summary>
    /// Fills the header (d, dmin, packed pairs) of one super-block and the 256 codes (0…<paramref name="nmax"/>,
    /// unpacked) that go with it, as ggml's reference quantiser does; the caller packs the codes.
    /// </summary>
    /// <remarks>
    /// Each sub-block is fitted by <see cref="KQuantSearch.FitScaleAndMin"/> with weights
    /// <c>sqrt(Σx² / 32) + |x_i|</c>, inverse scales from <c>nmax + rmin</c> upwards in steps of 0.1. The
    /// largest scale and the largest minimum become <c>63·d</c> and <c>63·dmin</c>; each sub-block's are stored as
    /// the nearest 6-bit multiple. Codes are then recomputed against the stored values (fp16 <c>d</c> times the
    /// 6-bit number), except in sub-blocks whose stored scale is zero, which keep the search's codes.
    /// </remarks>
    public static void QuantizeSuperBlock(ReadOnlySpan<float> x, Span<byte> block, Span<byte> codes, int nmax, float rmin, int steps)
    {
        Span<float> weights = stackalloc float[32];
        Span<float> scales = stackalloc float[8];
        Span<float> mins = stackalloc float[8];
        float maxScale = 0, maxMin = 0;
        for (int j = 0; j < 8; j++)
        {
            ReadOnlySpan<float> sub = x.Slice(32 * j, 32);
            float sumX2 = 0;
            foreach (float v in sub) sumX2 += v * v;
            float rms = MathF.Sqrt(sumX2 / 32);
            for (int l = 0; l < 32; l++) weights[l] = rms + MathF.Abs(sub[l]);
            scales[j] = KQuantSearch.FitScaleAndMin(sub, weights, nmax, codes.Slice(32 * j, 32), out mins[j], rmin, 0.1f, steps, useMad: false);
            if (scales[j] > maxScale) maxScale = scales[j];
            if (mins[j] > maxMin) maxMin = mins[j];
        }

        float inverseScale = maxScale > 0 ? 63f / maxScale : 0f;
        float inverseMin = maxMin > 0 ? 63f / maxMin : 0f;
        Span<byte> scaleCodes = stackalloc byte[8];
        Span<byte> minCodes = stackalloc byte[8];
        for (int j = 0; j < 8; j++)
        {
            // ggml keeps the low byte of the rounded value before clipping it to 63.
            scaleCodes[j] = (byte)Math.Min((byte)63, (byte)NearestInt(inverseScale * scales[j]));
            minCodes[j] = (byte)Math.Min((byte)63, (byte)NearestInt(inverseMin * mins[j]));
        }
        KScales.WritePairs(scaleCodes, minCodes, block.Slice(PairsOffset, 12));
        WriteHalf(block, 0, maxScale / 63f);
        WriteHalf(block, 2, maxMin / 63f);

        float d = ReadHalf(block, 0), dmin = ReadHalf(block, 2);
        for (int j = 0; j < 8; j++)
        {
            (int s, int m) = KScales.ReadPair(block.Slice(PairsOffset, 12), j);
            float step = d * s;
            if (step == 0) continue;
            float offset = dmin * m;
            for (int i = 32 * j; i < 32 * j + 32; i++)
                codes[i] = (byte)Math.Clamp(NearestInt((x[i] + offset) / step), 0, nmax);
        }
    }

    /// <summary>Decodes one super-block whose codes have been unpacked into <paramref name="codes"/>.</summary>
    public static void Dequantize(ReadOnlySpan<byte> block, ReadOnlySpan<int> codes, Span<float> y)
    {
        float d = ReadHalf(block, 0), dmin = ReadHalf(block, 2);
        for (int j = 0; j < 8; j++)
        {
            (int s, int m) = KScales.ReadPair(block.Slice(PairsOffset, 12), j);
            float step = d * s, offset = dmin * m;
            for (int i = 32 * j; i < 32 * j + 32; i++)
                y[i] = step * codes[i] - offset;
        }
    }

    /// <summary>
    /// The dot product with a <see cref="Q8_K"/> row in the order of ggml's generic code: per super-block, the
    /// minimum term <c>(dmin · d_a) · Σ_g sum_g · m_(g/2)</c> (exact integer sum over the sixteen stored group sums)
    /// is subtracted from a running fp32 total, while the scaled code products go into eight int32 lanes
    /// (<see cref="Q8_K.AccumulateLanes"/>) that are multiplied by <c>d · d_a</c> and added into eight fp32 lane
    /// totals. The lane totals are added to the running total, in lane order, only at the end.
    /// </summary>
    public static float Dot(GgmlBlockLayout layout, KCodeReader readCodes, ReadOnlySpan<byte> weights, ReadOnlySpan<byte> activations, int n)
    {
        int count = layout.BlockCount(n, weights.Length);
        Q8_K.Layout.BlockCount(n, activations.Length);
        Span<int> codes = stackalloc int[256];
        Span<int> scales = stackalloc int[8];
        Span<int> mins = stackalloc int[8];
        Span<int> lanes = stackalloc int[8];
        Span<float> laneTotals = stackalloc float[8];
        laneTotals.Clear();
        float sum = 0;
        for (int b = 0; b < count; b++)
        {
            ReadOnlySpan<byte> w = weights.Slice(b * layout.Bytes, layout.Bytes);
            ReadOnlySpan<byte> a = activations.Slice(b * Q8_K.Layout.Bytes, Q8_K.Layout.Bytes);
            readCodes(w, codes);
            for (int j = 0; j < 8; j++)
                (scales[j], mins[j]) = KScales.ReadPair(w.Slice(PairsOffset, 12), j);
            int minSum = 0;
            for (int g = 0; g < 16; g++)
                minSum += Q8_K.GroupSum(a, g) * mins[g / 2];
            Q8_K.AccumulateLanes(codes, scales, 32, a, lanes);
            float d = ReadHalf(w, 0) * Q8_K.Scale(a);
            for (int l = 0; l < 8; l++)
                laneTotals[l] += d * lanes[l];
            float dmin = ReadHalf(w, 2) * Q8_K.Scale(a);
            sum -= dmin * minSum;
        }
        for (int l = 0; l < 8; l++)
            sum += laneTotals[l];
        return sum;
    }
}
