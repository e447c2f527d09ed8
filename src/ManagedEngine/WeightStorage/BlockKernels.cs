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
/// <c>vpmaddubsw</c> and one <c>vpdpwssd</c> (AVX-VNNI) or <c>vpmaddwd</c> per group, as ggml's kernels do. Once per
/// super-block the lanes are converted to fp32 and fused-multiply-added with <c>d · s</c> (s the activation scale), then
/// the sixteen offset terms (<c>add · scale · Σq</c> per half-group) in two more; the lanes are summed at the end of the
/// row. Decode takes two rows at a time; prefill takes four tokens per pass over a row, so each block is decoded once
/// for four dot products.
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
        // Per row (two in decode and in the two-row prefill): 16 integer scales and 16 offsets.
        short* mul = stackalloc short[32];
        float* add = stackalloc float[32];
        int r0 = rowStart;
        if (tokens == 1)
        {
            for (; r0 + 2 <= rowEnd; r0 += 2)
            {
                if (native) TwoRows<F, NativeVariant>(w + r0 * rowBytes, rowBytes, cols, x, y + r0, mul, add);
                else TwoRows<F, PortableVariant>(w + r0 * rowBytes, rowBytes, cols, x, y + r0, mul, add);
            }
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
                    if (native) TwoByFour<F, NativeVariant>(w + r0 * rowBytes, rowBytes, cols, x, t, y + (long)t * yStride + r0, yStride, mul, add);
                    else TwoByFour<F, PortableVariant>(w + r0 * rowBytes, rowBytes, cols, x, t, y + (long)t * yStride + r0, yStride, mul, add);
                }
                for (; t < tokens; t++)
                    for (int r = r0; r < r0 + 2; r++)
                        y[(long)t * yStride + r] = native ? One<F, NativeVariant>(w + r * rowBytes, cols, x, t, mul, add)
                            : One<F, PortableVariant>(w + r * rowBytes, cols, x, t, mul, add);
            }
        }
        for (int r = r0; r < rowEnd; r++)
        {
            byte* row = w + r * rowBytes;
            int t = 0;
            for (; t + 4 <= tokens; t += 4)
            {
                if (native) Four<F, NativeVariant>(row, cols, x, t, y + (long)t * yStride + r, yStride, mul, add);
                else Four<F, PortableVariant>(row, cols, x, t, y + (long)t * yStride + r, yStride, mul, add);
            }
            for (; t < tokens; t++)
                y[(long)t * yStride + r] = native ? One<F, NativeVariant>(row, cols, x, t, mul, add) : One<F, PortableVariant>(row, cols, x, t, mul, add);
        }
    }

    // Not inlined: inside the dispatching method the JIT ran out of registers and kept the accumulators on the stack.
    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    private static float One<F, P>(byte* row, int cols, QuantizedActivations x, int t, short* mul, float* add)
        where F : struct, IKQuantFormat where P : struct, IKernelVariant
    {
        sbyte* xq = x.Values(t);
        float* xs = x.Scales(t), xh = x.HalfSums(t);
        Vector256<float> acc = Vector256<float>.Zero;
        for (int b = 0; b < cols / 256; b++)
        {
            byte* block = row + (long)b * F.BlockBytes;
            float d = F.IntegerScales(block, mul, add);
            Vector256<int> sum = Vector256<int>.Zero;
            for (int g = 0; g < 8; g++)
                sum = ScaledDot<F, P>(sum, F.Group(block, g), Vector256.Load(xq + (8 * b + g) * 32), mul, g);
            acc = Finish<F>(sum, d * xs[8 * b], add, xh + 16 * b, acc);
        }
        return Vector256.Sum(acc);
    }

    /// <summary><see cref="One{F, P}"/> for rows r and r+1 of the first token, interleaved, prefetching rows ahead.</summary>
    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    private static void TwoRows<F, P>(byte* row, long rowBytes, int cols, QuantizedActivations x, float* y, short* mul, float* add)
        where F : struct, IKQuantFormat where P : struct, IKernelVariant
    {
        sbyte* xq = x.Values(0);
        float* xs = x.Scales(0), xh = x.HalfSums(0);
        byte* row1 = row + rowBytes;
        long ahead = Block32Kernels.PrefetchRows(rowBytes) * rowBytes;
        Vector256<float> acc0 = Vector256<float>.Zero, acc1 = acc0;
        for (int b = 0; b < cols / 256; b++)
        {
            byte* p0 = row + (long)b * F.BlockBytes, p1 = row1 + (long)b * F.BlockBytes;
            if (P.Native)
            {
                for (int line = 0; line < F.BlockBytes; line += 64)
                {
                    Sse.Prefetch0(p0 + ahead + line);
                    Sse.Prefetch0(p1 + ahead + line);
                }
            }
            float d0 = F.IntegerScales(p0, mul, add), d1 = F.IntegerScales(p1, mul + 16, add + 16);
            Vector256<int> sum0 = Vector256<int>.Zero, sum1 = sum0;
            for (int g = 0; g < 8; g++)
            {
                Vector256<sbyte> xv = Vector256.Load(xq + (8 * b + g) * 32);
                sum0 = ScaledDot<F, P>(sum0, F.Group(p0, g), xv, mul, g);
                sum1 = ScaledDot<F, P>(sum1, F.Group(p1, g), xv, mul + 16, g);
            }
            float s = xs[8 * b];
            acc0 = Finish<F>(sum0, d0 * s, add, xh + 16 * b, acc0);
            acc1 = Finish<F>(sum1, d1 * s, add + 16, xh + 16 * b, acc1);
        }
        y[0] = Vector256.Sum(acc0);
        y[1] = Vector256.Sum(acc1);
    }

    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    private static void Four<F, P>(byte* row, int cols, QuantizedActivations x, int t, float* y, int yStride, short* mul, float* add)
        where F : struct, IKQuantFormat where P : struct, IKernelVariant
    {
        sbyte* q0 = x.Values(t), q1 = x.Values(t + 1), q2 = x.Values(t + 2), q3 = x.Values(t + 3);
        float* s0 = x.Scales(t), s1 = x.Scales(t + 1), s2 = x.Scales(t + 2), s3 = x.Scales(t + 3);
        float* h0 = x.HalfSums(t), h1 = x.HalfSums(t + 1), h2 = x.HalfSums(t + 2), h3 = x.HalfSums(t + 3);
        Vector256<float> a0 = Vector256<float>.Zero, a1 = a0, a2 = a0, a3 = a0;
        for (int b = 0; b < cols / 256; b++)
        {
            byte* block = row + (long)b * F.BlockBytes;
            float d = F.IntegerScales(block, mul, add);
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
            a0 = Finish<F>(i0, d * s0[8 * b], add, h0 + 16 * b, a0);
            a1 = Finish<F>(i1, d * s1[8 * b], add, h1 + 16 * b, a1);
            a2 = Finish<F>(i2, d * s2[8 * b], add, h2 + 16 * b, a2);
            a3 = Finish<F>(i3, d * s3[8 * b], add, h3 + 16 * b, a3);
        }
        y[0] = Vector256.Sum(a0);
        y[yStride] = Vector256.Sum(a1);
        y[2L * yStride] = Vector256.Sum(a2);
        y[3L * yStride] = Vector256.Sum(a3);
    }

    /// <summary><see cref="Four{F, P}"/> for rows r and r+1, sharing the activation loads.</summary>
    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    private static void TwoByFour<F, P>(byte* row, long rowBytes, int cols, QuantizedActivations x, int t, float* y, int yStride, short* mul, float* add)
        where F : struct, IKQuantFormat where P : struct, IKernelVariant
    {
        sbyte* q0 = x.Values(t), q1 = x.Values(t + 1), q2 = x.Values(t + 2), q3 = x.Values(t + 3);
        float* s0 = x.Scales(t), s1 = x.Scales(t + 1), s2 = x.Scales(t + 2), s3 = x.Scales(t + 3);
        float* h0 = x.HalfSums(t), h1 = x.HalfSums(t + 1), h2 = x.HalfSums(t + 2), h3 = x.HalfSums(t + 3);
        byte* row1 = row + rowBytes;
        short* mulB = mul + 16;
        float* addB = add + 16;
        Vector256<float> a0 = Vector256<float>.Zero, a1 = a0, a2 = a0, a3 = a0, b0 = a0, b1 = a0, b2 = a0, b3 = a0;
        for (int b = 0; b < cols / 256; b++)
        {
            byte* p = row + (long)b * F.BlockBytes, pr = row1 + (long)b * F.BlockBytes;
            float da = F.IntegerScales(p, mul, add), db = F.IntegerScales(pr, mulB, addB);
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
            a0 = Finish<F>(ia0, da * s0[8 * b], add, h0 + 16 * b, a0);
            b0 = Finish<F>(ib0, db * s0[8 * b], addB, h0 + 16 * b, b0);
            a1 = Finish<F>(ia1, da * s1[8 * b], add, h1 + 16 * b, a1);
            b1 = Finish<F>(ib1, db * s1[8 * b], addB, h1 + 16 * b, b1);
            a2 = Finish<F>(ia2, da * s2[8 * b], add, h2 + 16 * b, a2);
            b2 = Finish<F>(ib2, db * s2[8 * b], addB, h2 + 16 * b, b2);
            a3 = Finish<F>(ia3, da * s3[8 * b], add, h3 + 16 * b, a3);
            b3 = Finish<F>(ib3, db * s3[8 * b], addB, h3 + 16 * b, b3);
        }
        y[0] = Vector256.Sum(a0);
        y[1] = Vector256.Sum(b0);
        y[yStride] = Vector256.Sum(a1);
        y[yStride + 1] = Vector256.Sum(b1);
        y[2L * yStride] = Vector256.Sum(a2);
        y[2L * yStride + 1] = Vector256.Sum(b2);
        y[3L * yStride] = Vector256.Sum(a3);
        y[3L * yStride + 1] = Vector256.Sum(b3);
    }

    /// <summary>
    /// A super-block's exact integer lanes into the fp32 accumulator: converted and fused-multiply-added with
    /// <paramref name="scale"/> (<c>d</c> times the activation scale), then the offset terms.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<float> Finish<F>(Vector256<int> sum, float scale, float* add, float* halfSums, Vector256<float> acc)
        where F : struct, IKQuantFormat =>
        Offsets<F>(add, halfSums, Vector256.FusedMultiplyAdd(Vector256.ConvertToSingle(sum), Vector256.Create(scale), acc));

    /// <summary>A super-block's sixteen offset terms, <c>add_k · (scale · Σq)_k</c>, added lane-wise in two fused multiply-adds.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<float> Offsets<F>(float* add, float* halfSums, Vector256<float> acc) where F : struct, IBlockFormat
    {
        if (!F.HasOffsets) return acc;
        acc = Vector256.FusedMultiplyAdd(Vector256.Load(add), Vector256.Load(halfSums), acc);
        return Vector256.FusedMultiplyAdd(Vector256.Load(add + 8), Vector256.Load(halfSums + 8), acc);
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
