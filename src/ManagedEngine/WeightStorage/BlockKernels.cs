using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using MlPipelines.ManagedEngine.Kernels;

namespace MlPipelines.ManagedEngine.WeightStorage;

/// <summary>
/// <c>Y = X Wᵀ</c> for the k-quant formats (super-blocks of 256: Q4_K, Q5_K, Q6_K) with Block256 activations. Each output
/// is computed by one thread, group after group in a fixed order, so results do not depend on the thread count or on
/// how many tokens are multiplied together (prefill and decode give the same bits).
/// </summary>
/// <remarks>
/// Per super-block, the integer products of each group of 32 values are scaled by their half-groups' integer scales and
/// summed exactly into eight int32 lanes (lanes 0–3 hold each group's first half-group, 4–7 its second): on x86 one
/// <c>vpmaddubsw</c> and one <c>vpdpwssd</c> (AVX-VNNI) or <c>vpmaddwd</c> per group, as ggml's kernels do. The
/// minimums' term <c>Σ min · Σx</c> is one more integer multiply-add of sixteen pairs. Once per super-block the lanes are
/// converted to fp32 and fused-multiply-added with <c>d · s</c> and <c>−dmin · s</c> (s the activation scale; Q6_K,
/// whose minimums are in units of d, subtracts in integers first and needs one); the lanes are summed at the end of the
/// row. Decode on x86 takes a row at a time with each super-block unrolled (<see cref="IKQuantFormat.ScaledSums"/>);
/// prefill takes four tokens per pass over a row, so each block is decoded once for four dot products.
/// </remarks>
internal static unsafe class BlockKernels
{
    /// <summary>Rows <paramref name="rowStart"/>..<paramref name="rowEnd"/> of the product for <paramref name="tokens"/> tokens.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Multiply<F>(byte* w, long rowBytes, int cols, QuantizedActivations x, int tokens, float* y, int yStride,
        int rowStart, int rowEnd, KernelPath path) where F : struct, IKQuantFormat
    {
        if (F.BlockElements != 256)
            throw new InvalidOperationException($"{F.Format} is not a k-quant; its rows go through Block32Kernels.");
        bool native = path >= KernelPath.Native256 && Avx2.IsSupported;
        // Per row (two in decode and in the two-row prefill): 16 integer scales, then 16 integer minimums.
        short* mul = stackalloc short[64];
        int r0 = rowStart;
        if (tokens == 1 && native)
        {
            sbyte* xq = x.Values(0);
            float* xs = x.Scales(0);
            short* xc = x.HalfCounts(0);
            for (int r = rowStart; r < rowEnd; r++)
                y[r] = Row<F>(w + r * rowBytes, cols, xq, xs, xc);
            return;
        }
        else if (tokens >= 4 && path >= KernelPath.Native512)
        {
            // Prefill on the 512-bit path (32 vector registers; tests force it everywhere): two rows by four tokens, one
            // activation load for two rows; each (row, token) keeps Four's arithmetic, so the bits are the same.
            for (; r0 + 2 <= rowEnd; r0 += 2)
            {
                int t = 0;
                for (; t + 4 <= tokens; t += 4)
                {
                    if (native) TwoByFour<F, NativeVariant>(w + r0 * rowBytes, rowBytes, cols, x, t, y + (long)t * yStride + r0, yStride, mul);
                    else TwoByFour<F, PortableVariant>(w + r0 * rowBytes, rowBytes, cols, x, t, y + (long)t * yStride + r0, yStride, mul);
                }
                for (; t < tokens; t++)
                    for (int r = r0; r < r0 + 2; r++)
                        y[(long)t * yStride + r] = native ? One<F, NativeVariant>(w + r * rowBytes, cols, x, t, mul)
                            : One<F, PortableVariant>(w + r * rowBytes, cols, x, t, mul);
            }
        }
        for (int r = r0; r < rowEnd; r++)
        {
            byte* row = w + r * rowBytes;
            int t = 0;
            for (; t + 4 <= tokens; t += 4)
            {
                if (native) Four<F, NativeVariant>(row, cols, x, t, y + (long)t * yStride + r, yStride, mul);
                else Four<F, PortableVariant>(row, cols, x, t, y + (long)t * yStride + r, yStride, mul);
            }
            for (; t < tokens; t++)
                y[(long)t * yStride + r] = native ? One<F, NativeVariant>(row, cols, x, t, mul) : One<F, PortableVariant>(row, cols, x, t, mul);
        }
    }

    // Not inlined: inside the dispatching method the JIT ran out of registers and kept the accumulators on the stack.
    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    private static float One<F, P>(byte* row, int cols, QuantizedActivations x, int t, short* mul)
        where F : struct, IKQuantFormat where P : struct, IKernelVariant
    {
        sbyte* xq = x.Values(t);
        float* xs = x.Scales(t);
        short* xc = x.HalfCounts(t);
        Vector256<float> acc = Vector256<float>.Zero;
        for (int b = 0; b < cols / 256; b++)
        {
            byte* block = row + (long)b * F.BlockBytes;
            float d = F.IntegerScales(block, mul, mul + 16, out float dmin);
            Vector256<int> sum = Vector256<int>.Zero;
            for (int g = 0; g < 8; g++)
                sum = ScaledDot<F, P>(sum, F.Group(block, g), Vector256.Load(xq + (8 * b + g) * 32), mul, g);
            acc = Finish<F>(sum, MinimumSums<P>(mul + 16, xc + 16 * b), d, dmin, xs[8 * b], acc);
        }
        return Vector256.Sum(acc);
    }

    /// <summary>
    /// Decode on x86: one row against the first token, a super-block per iteration through
    /// <see cref="IKQuantFormat.ScaledSums"/> (unrolled, scales in registers; the scales' fp16 multipliers from
    /// <see cref="Fp16.Table"/>). The same lanes and the same fp32 operations as <see cref="One{F, P}"/>, so the same bits.
    /// </summary>
    /// <remarks>
    /// One row at a time, as ggml's decode: the unrolled super-block keeps eight independent products in flight, and a
    /// single stream is what the hardware prefetcher follows best. Two interleaved rows (with the scales stored and
    /// reloaded per group, and explicit prefetch) ran at two thirds of this rate.
    /// </remarks>
    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    private static float Row<F>(byte* row, int cols, sbyte* xq, float* xs, short* xc) where F : struct, IKQuantFormat
    {
        float* halves = Fp16.Table;
        Vector256<float> acc = Vector256<float>.Zero;
        for (int b = 0; b < cols / 256; b++)
        {
            byte* block = row + (long)b * F.BlockBytes;
            Vector256<int> sum = F.ScaledSums(block, xq + 256 * b, out Vector256<short> mins);
            Vector256<int> minimums = Avx2.MultiplyAddAdjacent(mins, Vector256.Load(xc + 16 * b));
            float d = F.Multipliers(block, halves, out float dmin);
            acc = Finish<F>(sum, minimums, d, dmin, xs[8 * b], acc);
        }
        return Vector256.Sum(acc);
    }

    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    private static void Four<F, P>(byte* row, int cols, QuantizedActivations x, int t, float* y, int yStride, short* mul)
        where F : struct, IKQuantFormat where P : struct, IKernelVariant
    {
        sbyte* q0 = x.Values(t), q1 = x.Values(t + 1), q2 = x.Values(t + 2), q3 = x.Values(t + 3);
        float* s0 = x.Scales(t), s1 = x.Scales(t + 1), s2 = x.Scales(t + 2), s3 = x.Scales(t + 3);
        short* c0 = x.HalfCounts(t), c1 = x.HalfCounts(t + 1), c2 = x.HalfCounts(t + 2), c3 = x.HalfCounts(t + 3);
        short* mins = mul + 16;
        Vector256<float> a0 = Vector256<float>.Zero, a1 = a0, a2 = a0, a3 = a0;
        for (int b = 0; b < cols / 256; b++)
        {
            byte* block = row + (long)b * F.BlockBytes;
            float d = F.IntegerScales(block, mul, mins, out float dmin);
            Vector256<int> i0 = Vector256<int>.Zero, i1 = i0, i2 = i0, i3 = i0;
            for (int g = 0; g < 8; g++)
            {
                Vector256<byte> wq = F.Group(block, g);
                int i = (8 * b + g) * 32;
                i0 = ScaledDot<F, P>(i0, wq, Vector256.Load(q0 + i), mul, g);
                i1 = ScaledDot<F, P>(i1, wq, Vector256.Load(q1 + i), mul, g);
                i2 = ScaledDot<F, P>(i2, wq, Vector256.Load(q2 + i), mul, g);
                i3 = ScaledDot<F, P>(i3, wq, Vector256.Load(q3 + i), mul, g);
            }
            a0 = Finish<F>(i0, MinimumSums<P>(mins, c0 + 16 * b), d, dmin, s0[8 * b], a0);
            a1 = Finish<F>(i1, MinimumSums<P>(mins, c1 + 16 * b), d, dmin, s1[8 * b], a1);
            a2 = Finish<F>(i2, MinimumSums<P>(mins, c2 + 16 * b), d, dmin, s2[8 * b], a2);
            a3 = Finish<F>(i3, MinimumSums<P>(mins, c3 + 16 * b), d, dmin, s3[8 * b], a3);
        }
        y[0] = Vector256.Sum(a0);
        y[yStride] = Vector256.Sum(a1);
        y[2L * yStride] = Vector256.Sum(a2);
        y[3L * yStride] = Vector256.Sum(a3);
    }

    /// <summary><see cref="Four{F, P}"/> for rows r and r+1, sharing the activation loads.</summary>
    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    private static void TwoByFour<F, P>(byte* row, long rowBytes, int cols, QuantizedActivations x, int t, float* y, int yStride, short* mul)
        where F : struct, IKQuantFormat where P : struct, IKernelVariant
    {
        sbyte* q0 = x.Values(t), q1 = x.Values(t + 1), q2 = x.Values(t + 2), q3 = x.Values(t + 3);
        float* s0 = x.Scales(t), s1 = x.Scales(t + 1), s2 = x.Scales(t + 2), s3 = x.Scales(t + 3);
        short* c0 = x.HalfCounts(t), c1 = x.HalfCounts(t + 1), c2 = x.HalfCounts(t + 2), c3 = x.HalfCounts(t + 3);
        byte* row1 = row + rowBytes;
        short* minsA = mul + 16, mulB = mul + 32, minsB = mul + 48;
        Vector256<float> a0 = Vector256<float>.Zero, a1 = a0, a2 = a0, a3 = a0, b0 = a0, b1 = a0, b2 = a0, b3 = a0;
        for (int b = 0; b < cols / 256; b++)
        {
            byte* p = row + (long)b * F.BlockBytes, pr = row1 + (long)b * F.BlockBytes;
            float da = F.IntegerScales(p, mul, minsA, out float dminA), db = F.IntegerScales(pr, mulB, minsB, out float dminB);
            Vector256<int> ia0 = Vector256<int>.Zero, ia1 = ia0, ia2 = ia0, ia3 = ia0, ib0 = ia0, ib1 = ia0, ib2 = ia0, ib3 = ia0;
            for (int g = 0; g < 8; g++)
            {
                Vector256<byte> wa = F.Group(p, g), wb = F.Group(pr, g);
                int i = (8 * b + g) * 32;
                Vector256<sbyte> x0 = Vector256.Load(q0 + i), x1 = Vector256.Load(q1 + i), x2 = Vector256.Load(q2 + i), x3 = Vector256.Load(q3 + i);
                ia0 = ScaledDot<F, P>(ia0, wa, x0, mul, g);
                ib0 = ScaledDot<F, P>(ib0, wb, x0, mulB, g);
                ia1 = ScaledDot<F, P>(ia1, wa, x1, mul, g);
                ib1 = ScaledDot<F, P>(ib1, wb, x1, mulB, g);
                ia2 = ScaledDot<F, P>(ia2, wa, x2, mul, g);
                ib2 = ScaledDot<F, P>(ib2, wb, x2, mulB, g);
                ia3 = ScaledDot<F, P>(ia3, wa, x3, mul, g);
                ib3 = ScaledDot<F, P>(ib3, wb, x3, mulB, g);
            }
            a0 = Finish<F>(ia0, MinimumSums<P>(minsA, c0 + 16 * b), da, dminA, s0[8 * b], a0);
            b0 = Finish<F>(ib0, MinimumSums<P>(minsB, c0 + 16 * b), db, dminB, s0[8 * b], b0);
            a1 = Finish<F>(ia1, MinimumSums<P>(minsA, c1 + 16 * b), da, dminA, s1[8 * b], a1);
            b1 = Finish<F>(ib1, MinimumSums<P>(minsB, c1 + 16 * b), db, dminB, s1[8 * b], b1);
            a2 = Finish<F>(ia2, MinimumSums<P>(minsA, c2 + 16 * b), da, dminA, s2[8 * b], a2);
            b2 = Finish<F>(ib2, MinimumSums<P>(minsB, c2 + 16 * b), db, dminB, s2[8 * b], b2);
            a3 = Finish<F>(ia3, MinimumSums<P>(minsA, c3 + 16 * b), da, dminA, s3[8 * b], a3);
            b3 = Finish<F>(ib3, MinimumSums<P>(minsB, c3 + 16 * b), db, dminB, s3[8 * b], b3);
        }
        Sum2<P>(a0, b0, y, y + 1);
        Sum2<P>(a1, b1, y + yStride, y + yStride + 1);
        Sum2<P>(a2, b2, y + 2L * yStride, y + 2L * yStride + 1);
        Sum2<P>(a3, b3, y + 3L * yStride, y + 3L * yStride + 1);
    }

    /// <summary>
    /// A super-block into the fp32 accumulator: the scaled products' exact integer lanes times <c>d · s</c>, and the
    /// minimums' lanes times <c>−dmin · s</c> (for Q6_K, whose minimums are in units of d, subtracted before converting).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<float> Finish<F>(Vector256<int> sum, Vector256<int> minimums, float d, float dmin, float s, Vector256<float> acc)
        where F : struct, IKQuantFormat
    {
        if (F.MinimumsInScaleUnits)
            return Vector256.FusedMultiplyAdd(Vector256.ConvertToSingle(sum - minimums), Vector256.Create(d * s), acc);
        acc = Vector256.FusedMultiplyAdd(Vector256.ConvertToSingle(sum), Vector256.Create(d * s), acc);
        return Vector256.FusedMultiplyAdd(Vector256.ConvertToSingle(minimums), Vector256.Create(-(dmin * s)), acc);
    }

    /// <summary>Lane j = <c>mins[2j]·counts[2j] + mins[2j+1]·counts[2j+1]</c> (x86's <c>vpmaddwd</c>), exact.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<int> MinimumSums<P>(short* mins, short* counts) where P : struct, IKernelVariant
    {
        if (P.Native)
            return Avx2.MultiplyAddAdjacent(Vector256.Load(mins), Vector256.Load(counts));
        return Vector256.Create(
            mins[0] * counts[0] + mins[1] * counts[1], mins[2] * counts[2] + mins[3] * counts[3],
            mins[4] * counts[4] + mins[5] * counts[5], mins[6] * counts[6] + mins[7] * counts[7],
            mins[8] * counts[8] + mins[9] * counts[9], mins[10] * counts[10] + mins[11] * counts[11],
            mins[12] * counts[12] + mins[13] * counts[13], mins[14] * counts[14] + mins[15] * counts[15]);
    }

    /// <summary>
    /// Two rows' lane sums, each paired as <see cref="Vector256.Sum{T}"/> pairs them (((0+1)+(2+3)) + ((4+5)+(6+7))), so
    /// the bits equal <c>Vector256.Sum</c>'s; natively in three horizontal adds instead of two shuffle chains.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Sum2<P>(Vector256<float> a, Vector256<float> b, float* ya, float* yb) where P : struct, IKernelVariant
    {
        if (P.Native)
        {
            Vector256<float> pairs = Avx.HorizontalAdd(a, b);
            Vector256<float> quads = Avx.HorizontalAdd(pairs, pairs);
            Vector128<float> sums = quads.GetLower() + quads.GetUpper();
            *ya = sums.GetElement(0);
            *yb = sums.GetElement(1);
            return;
        }
        *ya = Vector256.Sum(a);
        *yb = Vector256.Sum(b);
    }

    /// <summary>
    /// <paramref name="sum"/> plus group <paramref name="g"/>'s products, each quad of values (lane i: values 4i..4i+3) times
    /// its half-group's integer scale; exact (|q| ≤ 63, |x| ≤ 128: the int16 pair sums cannot saturate, and a super-block's
    /// total stays far inside int32).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<int> ScaledDot<F, P>(Vector256<int> sum, Vector256<byte> w, Vector256<sbyte> x, short* scales, int g)
        where F : struct, IKQuantFormat where P : struct, IKernelVariant
    {
        short first = scales[2 * g], second = scales[2 * g + 1];
        if (P.Native)
        {
            // Q4_K and Q5_K scale whole groups (both halves alike): one broadcast.
            Vector256<short> s = F.Format == WeightFormat.Q6_K
                ? Vector256.Create(Vector128.Create(first), Vector128.Create(second))
                : Vector256.Create(first);
            Vector256<short> pairs = Avx2.MultiplyAddAdjacent(w, x);
            return AvxVnni.IsSupported ? AvxVnni.MultiplyWideningAndAdd(sum, pairs, s) : sum + Avx2.MultiplyAddAdjacent(pairs, s);
        }
        return sum + Int8Dot.Quads(w.AsSByte(), x, native: false) * Vector256.Create(Vector128.Create((int)first), Vector128.Create((int)second));
    }
}
