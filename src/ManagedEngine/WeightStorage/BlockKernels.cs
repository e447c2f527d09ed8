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
/// Per group of 32 values the integer products are summed exactly into eight int32 lanes (lanes 0–3 hold the first
/// half-group, 4–7 the second), converted to fp32 and fused-multiply-added with <c>(mul_lo · s, mul_hi · s)</c>, s being
/// the activation scale; the offset terms (<c>add · scale · Σq</c> per half-group) accumulate in a second vector, sixteen
/// half-groups per super-block in two fused multiply-adds; both are summed once at the end of the row. Decode takes two
/// rows at a time; prefill takes four tokens per pass over a row, so each block is decoded once for four dot products.
/// </remarks>
internal static unsafe class BlockKernels
{
    /// <summary>Rows <paramref name="rowStart"/>..<paramref name="rowEnd"/> of the product for <paramref name="tokens"/> tokens.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Multiply<F>(byte* w, long rowBytes, int cols, QuantizedActivations x, int tokens, float* y, int yStride,
        int rowStart, int rowEnd, KernelPath path) where F : struct, IBlockFormat
    {
        if (F.BlockElements != 256)
            throw new InvalidOperationException($"{F.Format} is not a k-quant; its rows go through Block32Kernels.");
        bool native = path >= KernelPath.Native256 && Avx2.IsSupported;
        // Per row (two in decode and in the two-row prefill): 16 multipliers, 16 offsets, and the multipliers times each
        // token's activation scale.
        float* mul = stackalloc float[160];
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
    private static float One<F, P>(byte* row, int cols, QuantizedActivations x, int t, float* mul, float* add)
        where F : struct, IBlockFormat where P : struct, IKernelVariant
    {
        sbyte* xq = x.Values(t);
        float* xs = x.Scales(t), xh = x.HalfSums(t);
        Vector256<float> acc = Vector256<float>.Zero, offsets = Vector256<float>.Zero;
        for (int b = 0; b < cols / 256; b++)
        {
            byte* block = row + (long)b * F.BlockBytes;
            F.Scales(block, mul, add);
            offsets = Offsets<F>(add, xh + 16 * b, offsets);
            ScaleAll(mul, xs[8 * b], mul + 16);
            for (int g = 0; g < 8; g++)
            {
                int i = 8 * b + g;
                acc = Vector256.FusedMultiplyAdd(Vector256.ConvertToSingle(Dot<F, P>(F.Group(block, g), Vector256.Load(xq + i * 32))),
                    Scale<F>(mul + 16, g), acc);
            }
        }
        return Vector256.Sum(acc) + Vector256.Sum(offsets);
    }

    /// <summary><see cref="One{F, P}"/> for rows r and r+1 of the first token, interleaved, prefetching rows ahead.</summary>
    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    private static void TwoRows<F, P>(byte* row, long rowBytes, int cols, QuantizedActivations x, float* y, float* mul, float* add)
        where F : struct, IBlockFormat where P : struct, IKernelVariant
    {
        sbyte* xq = x.Values(0);
        float* xs = x.Scales(0), xh = x.HalfSums(0);
        byte* row1 = row + rowBytes;
        long ahead = Block32Kernels.PrefetchRows(rowBytes) * rowBytes;
        Vector256<float> acc0 = Vector256<float>.Zero, acc1 = acc0, off0 = acc0, off1 = acc0;
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
            F.Scales(p0, mul, add);
            F.Scales(p1, mul + 16, add + 16);
            off0 = Offsets<F>(add, xh + 16 * b, off0);
            off1 = Offsets<F>(add + 16, xh + 16 * b, off1);
            ScaleAll(mul, xs[8 * b], mul + 32);
            ScaleAll(mul + 16, xs[8 * b], mul + 48);
            for (int g = 0; g < 8; g++)
            {
                Vector256<sbyte> xv = Vector256.Load(xq + (8 * b + g) * 32);
                acc0 = Vector256.FusedMultiplyAdd(Vector256.ConvertToSingle(Dot<F, P>(F.Group(p0, g), xv)), Scale<F>(mul + 32, g), acc0);
                acc1 = Vector256.FusedMultiplyAdd(Vector256.ConvertToSingle(Dot<F, P>(F.Group(p1, g), xv)), Scale<F>(mul + 48, g), acc1);
            }
        }
        y[0] = Vector256.Sum(acc0) + Vector256.Sum(off0);
        y[1] = Vector256.Sum(acc1) + Vector256.Sum(off1);
    }

    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    private static void Four<F, P>(byte* row, int cols, QuantizedActivations x, int t, float* y, int yStride, float* mul, float* add)
        where F : struct, IBlockFormat where P : struct, IKernelVariant
    {
        sbyte* q0 = x.Values(t), q1 = x.Values(t + 1), q2 = x.Values(t + 2), q3 = x.Values(t + 3);
        float* s0 = x.Scales(t), s1 = x.Scales(t + 1), s2 = x.Scales(t + 2), s3 = x.Scales(t + 3);
        float* h0 = x.HalfSums(t), h1 = x.HalfSums(t + 1), h2 = x.HalfSums(t + 2), h3 = x.HalfSums(t + 3);
        Vector256<float> a0 = Vector256<float>.Zero, a1 = a0, a2 = a0, a3 = a0, o0 = a0, o1 = a0, o2 = a0, o3 = a0;
        for (int b = 0; b < cols / 256; b++)
        {
            byte* block = row + (long)b * F.BlockBytes;
            F.Scales(block, mul, add);
            o0 = Offsets<F>(add, h0 + 16 * b, o0);
            o1 = Offsets<F>(add, h1 + 16 * b, o1);
            o2 = Offsets<F>(add, h2 + 16 * b, o2);
            o3 = Offsets<F>(add, h3 + 16 * b, o3);
            // Four tokens' scaled multipliers, in the space for a second row's (not needed in prefill).
            ScaleAll(mul, s0[8 * b], mul + 16);
            ScaleAll(mul, s1[8 * b], mul + 32);
            ScaleAll(mul, s2[8 * b], mul + 48);
            ScaleAll(mul, s3[8 * b], add + 16);
            for (int g = 0; g < 8; g++)
            {
                Vector256<byte> wq = F.Group(block, g);
                int i = 8 * b + g;
                a0 = Vector256.FusedMultiplyAdd(Vector256.ConvertToSingle(Dot<F, P>(wq, Vector256.Load(q0 + i * 32))), Scale<F>(mul + 16, g), a0);
                a1 = Vector256.FusedMultiplyAdd(Vector256.ConvertToSingle(Dot<F, P>(wq, Vector256.Load(q1 + i * 32))), Scale<F>(mul + 32, g), a1);
                a2 = Vector256.FusedMultiplyAdd(Vector256.ConvertToSingle(Dot<F, P>(wq, Vector256.Load(q2 + i * 32))), Scale<F>(mul + 48, g), a2);
                a3 = Vector256.FusedMultiplyAdd(Vector256.ConvertToSingle(Dot<F, P>(wq, Vector256.Load(q3 + i * 32))), Scale<F>(add + 16, g), a3);
            }
        }
        y[0] = Vector256.Sum(a0) + Vector256.Sum(o0);
        y[yStride] = Vector256.Sum(a1) + Vector256.Sum(o1);
        y[2L * yStride] = Vector256.Sum(a2) + Vector256.Sum(o2);
        y[3L * yStride] = Vector256.Sum(a3) + Vector256.Sum(o3);
    }

    /// <summary><see cref="Four{F, P}"/> for rows r and r+1, sharing the activation loads.</summary>
    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    private static void TwoByFour<F, P>(byte* row, long rowBytes, int cols, QuantizedActivations x, int t, float* y, int yStride, float* mul, float* add)
        where F : struct, IBlockFormat where P : struct, IKernelVariant
    {
        sbyte* q0 = x.Values(t), q1 = x.Values(t + 1), q2 = x.Values(t + 2), q3 = x.Values(t + 3);
        float* s0 = x.Scales(t), s1 = x.Scales(t + 1), s2 = x.Scales(t + 2), s3 = x.Scales(t + 3);
        float* h0 = x.HalfSums(t), h1 = x.HalfSums(t + 1), h2 = x.HalfSums(t + 2), h3 = x.HalfSums(t + 3);
        byte* row1 = row + rowBytes;
        float* mulB = mul + 16, addB = add + 16, scaled = mul + 32;   // scaled: [row][token][16]
        Vector256<float> a0 = Vector256<float>.Zero, a1 = a0, a2 = a0, a3 = a0, b0 = a0, b1 = a0, b2 = a0, b3 = a0;
        Vector256<float> oa0 = a0, oa1 = a0, oa2 = a0, oa3 = a0, ob0 = a0, ob1 = a0, ob2 = a0, ob3 = a0;
        for (int b = 0; b < cols / 256; b++)
        {
            byte* p = row + (long)b * F.BlockBytes, pr = row1 + (long)b * F.BlockBytes;
            F.Scales(p, mul, add);
            F.Scales(pr, mulB, addB);
            oa0 = Offsets<F>(add, h0 + 16 * b, oa0); oa1 = Offsets<F>(add, h1 + 16 * b, oa1);
            oa2 = Offsets<F>(add, h2 + 16 * b, oa2); oa3 = Offsets<F>(add, h3 + 16 * b, oa3);
            ob0 = Offsets<F>(addB, h0 + 16 * b, ob0); ob1 = Offsets<F>(addB, h1 + 16 * b, ob1);
            ob2 = Offsets<F>(addB, h2 + 16 * b, ob2); ob3 = Offsets<F>(addB, h3 + 16 * b, ob3);
            ScaleAll(mul, s0[8 * b], scaled); ScaleAll(mul, s1[8 * b], scaled + 16);
            ScaleAll(mul, s2[8 * b], scaled + 32); ScaleAll(mul, s3[8 * b], scaled + 48);
            ScaleAll(mulB, s0[8 * b], scaled + 64); ScaleAll(mulB, s1[8 * b], scaled + 80);
            ScaleAll(mulB, s2[8 * b], scaled + 96); ScaleAll(mulB, s3[8 * b], scaled + 112);
            for (int g = 0; g < 8; g++)
            {
                Vector256<byte> wa = F.Group(p, g), wb = F.Group(pr, g);
                int i = (8 * b + g) * 32;
                Vector256<sbyte> x0 = Vector256.Load(q0 + i), x1 = Vector256.Load(q1 + i), x2 = Vector256.Load(q2 + i), x3 = Vector256.Load(q3 + i);
                a0 = Vector256.FusedMultiplyAdd(Vector256.ConvertToSingle(Dot<F, P>(wa, x0)), Scale<F>(scaled, g), a0);
                b0 = Vector256.FusedMultiplyAdd(Vector256.ConvertToSingle(Dot<F, P>(wb, x0)), Scale<F>(scaled + 64, g), b0);
                a1 = Vector256.FusedMultiplyAdd(Vector256.ConvertToSingle(Dot<F, P>(wa, x1)), Scale<F>(scaled + 16, g), a1);
                b1 = Vector256.FusedMultiplyAdd(Vector256.ConvertToSingle(Dot<F, P>(wb, x1)), Scale<F>(scaled + 80, g), b1);
                a2 = Vector256.FusedMultiplyAdd(Vector256.ConvertToSingle(Dot<F, P>(wa, x2)), Scale<F>(scaled + 32, g), a2);
                b2 = Vector256.FusedMultiplyAdd(Vector256.ConvertToSingle(Dot<F, P>(wb, x2)), Scale<F>(scaled + 96, g), b2);
                a3 = Vector256.FusedMultiplyAdd(Vector256.ConvertToSingle(Dot<F, P>(wa, x3)), Scale<F>(scaled + 48, g), a3);
                b3 = Vector256.FusedMultiplyAdd(Vector256.ConvertToSingle(Dot<F, P>(wb, x3)), Scale<F>(scaled + 112, g), b3);
            }
        }
        y[0] = Vector256.Sum(a0) + Vector256.Sum(oa0);
        y[1] = Vector256.Sum(b0) + Vector256.Sum(ob0);
        y[yStride] = Vector256.Sum(a1) + Vector256.Sum(oa1);
        y[yStride + 1] = Vector256.Sum(b1) + Vector256.Sum(ob1);
        y[2L * yStride] = Vector256.Sum(a2) + Vector256.Sum(oa2);
        y[2L * yStride + 1] = Vector256.Sum(b2) + Vector256.Sum(ob2);
        y[3L * yStride] = Vector256.Sum(a3) + Vector256.Sum(oa3);
        y[3L * yStride + 1] = Vector256.Sum(b3) + Vector256.Sum(ob3);
    }

    /// <summary>A super-block's sixteen offset terms, <c>add_k · (scale · Σq)_k</c>, added lane-wise in two fused multiply-adds.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<float> Offsets<F>(float* add, float* halfSums, Vector256<float> acc) where F : struct, IBlockFormat
    {
        if (!F.HasOffsets) return acc;
        acc = Vector256.FusedMultiplyAdd(Vector256.Load(add), Vector256.Load(halfSums), acc);
        return Vector256.FusedMultiplyAdd(Vector256.Load(add + 8), Vector256.Load(halfSums + 8), acc);
    }

    /// <summary>
    /// The sixteen multipliers of a super-block times its activation scale (Block256 activations have one scale per 256
    /// values), in two vector multiplies.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void ScaleAll(float* mul, float s, float* scaled)
    {
        Vector256<float> sv = Vector256.Create(s);
        (Vector256.Load(mul) * sv).Store(scaled);
        (Vector256.Load(mul + 8) * sv).Store(scaled + 8);
    }

    /// <summary>Group g's scaled multipliers: one broadcast, or two halves for Q6_K's per-16 scales.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<float> Scale<F>(float* scaled, int g) where F : struct, IBlockFormat =>
        F.Format == WeightFormat.Q6_K
            ? Vector256.Create(Vector128.Create(scaled[2 * g]), Vector128.Create(scaled[2 * g + 1]))
            : Vector256.Create(scaled[2 * g]);

    /// <summary>Eight int32 lanes, lane i = Σ of products 4i..4i+3 (exact); k-quant values are unsigned, so u8 × s8 directly.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<int> Dot<F, P>(Vector256<byte> w, Vector256<sbyte> x) where F : struct, IBlockFormat where P : struct, IKernelVariant
    {
        if (P.Native && F.Unsigned)
        {
            if (AvxVnni.IsSupported)
                return AvxVnni.MultiplyWideningAndAdd(Vector256<int>.Zero, w, x);
            return Avx2.MultiplyAddAdjacent(Avx2.MultiplyAddAdjacent(w, x), Vector256.Create((short)1));
        }
        return Int8Dot.Quads(w.AsSByte(), x, P.Native);
    }
}
