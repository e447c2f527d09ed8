using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using MlPipelines.ManagedEngine.Kernels;

namespace MlPipelines.ManagedEngine.WeightStorage;

/// <summary>
/// <c>Y = X Wᵀ</c> for the 32-value block formats (Q8_0, Q4_0, Q4_1, Q5_0, Q5_1) with Block32 activations. Blocks go
/// eight at a time: their fp16 scales are converted together and multiplied by the eight activation scales in one
/// vector, so each block then costs its integer dot product, one conversion and one fused multiply-add. Minimums
/// (Q4_1, Q5_1) accumulate as <c>m · activation block sum</c> in a second vector.
/// </summary>
/// <remarks>
/// Every output is one row by one token, blocks in order, lanes summed at the end of the row: the same bits for one
/// token or many, any thread count, and every kernel path (the integer sums are exact; the fp32 operations are the same).
/// </remarks>
internal static unsafe class Block32Kernels
{
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Multiply<F>(byte* w, long rowBytes, int cols, QuantizedActivations x, int tokens, float* y, int yStride,
        int rowStart, int rowEnd, KernelPath path) where F : struct, IBlockFormat
    {
        bool native = path >= KernelPath.Native256 && Avx2.IsSupported;
        float* scales = stackalloc float[64];
        int r0 = rowStart;
        if (tokens == 1)
        {
            // Decode: four rows (two for formats with minimums) at a time share the activation loads, and their
            // accumulator chains hide the fused multiply-add latency one chain is bound by. Each row's arithmetic is
            // unchanged.
            if (F.MinOffset < 0)
                for (; r0 + 4 <= rowEnd; r0 += 4)
                {
                    if (native) FourRows<F, NativeVariant>(w + r0 * rowBytes, rowBytes, cols, x, y + r0, scales);
                    else FourRows<F, PortableVariant>(w + r0 * rowBytes, rowBytes, cols, x, y + r0, scales);
                }
            for (; r0 + 2 <= rowEnd; r0 += 2)
            {
                if (native) TwoRows<F, NativeVariant>(w + r0 * rowBytes, rowBytes, cols, x, y + r0, scales);
                else TwoRows<F, PortableVariant>(w + r0 * rowBytes, rowBytes, cols, x, y + r0, scales);
            }
        }
        if (tokens >= 4 && F.MinOffset < 0 && path >= KernelPath.Native512)
        {
            // Prefill on the 512-bit path (machines with 32 vector registers; tests force it everywhere): two rows by four
            // tokens, so each activation load serves two rows and each weight group four tokens. Every (row, token) keeps
            // Four's arithmetic, so the bits are the same.
            for (; r0 + 2 <= rowEnd; r0 += 2)
            {
                byte* row = w + r0 * rowBytes;
                int t = 0;
                for (; t + 4 <= tokens; t += 4)
                {
                    if (native) TwoByFour<F, NativeVariant>(row, rowBytes, cols, x, t, y + (long)t * yStride + r0, yStride, scales);
                    else TwoByFour<F, PortableVariant>(row, rowBytes, cols, x, t, y + (long)t * yStride + r0, yStride, scales);
                }
                for (; t < tokens; t++)
                    for (int r = r0; r < r0 + 2; r++)
                        y[(long)t * yStride + r] = native ? One<F, NativeVariant>(w + r * rowBytes, cols, x, t, scales)
                            : One<F, PortableVariant>(w + r * rowBytes, cols, x, t, scales);
            }
        }
        for (int r = r0; r < rowEnd; r++)
        {
            byte* row = w + r * rowBytes;
            int t = 0;
            for (; t + 4 <= tokens; t += 4)
            {
                if (native) Four<F, NativeVariant>(row, cols, x, t, y + (long)t * yStride + r, yStride, scales);
                else Four<F, PortableVariant>(row, cols, x, t, y + (long)t * yStride + r, yStride, scales);
            }
            for (; t < tokens; t++)
                y[(long)t * yStride + r] = native ? One<F, NativeVariant>(row, cols, x, t, scales) : One<F, PortableVariant>(row, cols, x, t, scales);
        }
    }

    // Not inlined: inside the dispatching method the JIT ran out of registers and kept the accumulators on the stack.
    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    private static float One<F, P>(byte* row, int cols, QuantizedActivations x, int t, float* scales) where F : struct, IBlockFormat where P : struct, IKernelVariant
    {
        sbyte* xq = x.Values(t);
        float* xs = x.Scales(t), xsum = x.BlockSums(t);
        int* c = x.Corrections(t, F.Bias);
        Vector256<float> acc = Vector256<float>.Zero, offsets = Vector256<float>.Zero;
        int blocks = cols / 32, bb = F.BlockBytes, b = 0;
        for (; b + 8 <= blocks; b += 8)
        {
            byte* p = row + (long)b * bb;
            (Scales8<F, P>(p, F.ScaleOffset) * Vector256.Load(xs + b)).Store(scales);
            if (F.MinOffset >= 0)
                offsets = Vector256.FusedMultiplyAdd(Scales8<F, P>(p, F.MinOffset), Vector256.Load(xsum + b), offsets);
            for (int j = 0; j < 8; j++)
            {
                Vector256<byte> q = F.Group(p + j * bb, 0);
                Vector256<int> dot = Dot<F, P>(q, Prepare<F, P>(q), Vector256.Load(xq + (b + j) * 32), c + (b + j));
                acc = Vector256.FusedMultiplyAdd(Vector256.ConvertToSingle(dot), Vector256.Create(scales[j]), acc);
            }
        }
        float tail = 0f;
        for (; b < blocks; b++)
        {
            byte* p = row + (long)b * bb;
            Vector256<byte> q = F.Group(p, 0);
            Vector256<int> dot = Dot<F, P>(q, Prepare<F, P>(q), Vector256.Load(xq + b * 32), c + b);
            acc = Vector256.FusedMultiplyAdd(Vector256.ConvertToSingle(dot), Vector256.Create(Fp16.Read(p + F.ScaleOffset) * xs[b]), acc);
            if (F.MinOffset >= 0) tail += Fp16.Read(p + F.MinOffset) * xsum[b];
        }
        return Vector256.Sum(acc) + (Vector256.Sum(offsets) + tail);
    }

    /// <summary><see cref="One{F, P}"/> for rows r and r+1 of the first token, interleaved.</summary>
    // Not inlined: inside the dispatching method the JIT ran out of registers and kept the accumulators on the stack.
    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    private static void TwoRows<F, P>(byte* row, long rowBytes, int cols, QuantizedActivations x, float* y, float* scales)
        where F : struct, IBlockFormat where P : struct, IKernelVariant
    {
        sbyte* xq = x.Values(0);
        float* xs = x.Scales(0), xsum = x.BlockSums(0);
        int* c = x.Corrections(0, F.Bias);
        byte* row1 = row + rowBytes;
        long prefetchRows = PrefetchRows(rowBytes);
        Vector256<float> acc0 = Vector256<float>.Zero, acc1 = acc0, off0 = acc0, off1 = acc0;
        int blocks = cols / 32, bb = F.BlockBytes, b = 0;
        for (; b + 8 <= blocks; b += 8)
        {
            byte* p0 = row + (long)b * bb, p1 = row1 + (long)b * bb;
            if (P.Native)
            {
                // Decode streams each weight once from memory; rows are short (a few hundred bytes), too short for the
                // hardware prefetcher to run ahead, so ask for the same blocks two row pairs ahead.
                byte* ahead = p0 + prefetchRows * rowBytes;
                for (int line = 0; line < 8 * bb; line += 64)
                {
                    Sse.Prefetch0(ahead + line);
                    Sse.Prefetch0(ahead + rowBytes + line);
                }
            }
            Vector256<float> s = Vector256.Load(xs + b);
            (Scales8<F, P>(p0, F.ScaleOffset) * s).Store(scales);
            (Scales8<F, P>(p1, F.ScaleOffset) * s).Store(scales + 8);
            if (F.MinOffset >= 0)
            {
                Vector256<float> sums = Vector256.Load(xsum + b);
                off0 = Vector256.FusedMultiplyAdd(Scales8<F, P>(p0, F.MinOffset), sums, off0);
                off1 = Vector256.FusedMultiplyAdd(Scales8<F, P>(p1, F.MinOffset), sums, off1);
            }
            for (int j = 0; j < 8; j++)
            {
                Vector256<sbyte> xv = Vector256.Load(xq + (b + j) * 32);
                Vector256<byte> q0 = F.Group(p0 + j * bb, 0), q1 = F.Group(p1 + j * bb, 0);
                acc0 = Vector256.FusedMultiplyAdd(Vector256.ConvertToSingle(Dot<F, P>(q0, Prepare<F, P>(q0), xv, c + (b + j))), Vector256.Create(scales[j]), acc0);
                acc1 = Vector256.FusedMultiplyAdd(Vector256.ConvertToSingle(Dot<F, P>(q1, Prepare<F, P>(q1), xv, c + (b + j))), Vector256.Create(scales[8 + j]), acc1);
            }
        }
        float tail0 = 0f, tail1 = 0f;
        for (; b < blocks; b++)
        {
            byte* p0 = row + (long)b * bb, p1 = row1 + (long)b * bb;
            Vector256<sbyte> xv = Vector256.Load(xq + b * 32);
            Vector256<byte> q0 = F.Group(p0, 0), q1 = F.Group(p1, 0);
            acc0 = Vector256.FusedMultiplyAdd(Vector256.ConvertToSingle(Dot<F, P>(q0, Prepare<F, P>(q0), xv, c + b)), Vector256.Create(Fp16.Read(p0 + F.ScaleOffset) * xs[b]), acc0);
            acc1 = Vector256.FusedMultiplyAdd(Vector256.ConvertToSingle(Dot<F, P>(q1, Prepare<F, P>(q1), xv, c + b)), Vector256.Create(Fp16.Read(p1 + F.ScaleOffset) * xs[b]), acc1);
            if (F.MinOffset >= 0)
            {
                tail0 += Fp16.Read(p0 + F.MinOffset) * xsum[b];
                tail1 += Fp16.Read(p1 + F.MinOffset) * xsum[b];
            }
        }
        y[0] = Vector256.Sum(acc0) + (Vector256.Sum(off0) + tail0);
        y[1] = Vector256.Sum(acc1) + (Vector256.Sum(off1) + tail1);
    }

    /// <summary><see cref="One{F, P}"/> for rows r..r+3 of the first token (formats without minimums), interleaved.</summary>
    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    private static void FourRows<F, P>(byte* row, long rowBytes, int cols, QuantizedActivations x, float* y, float* scales)
        where F : struct, IBlockFormat where P : struct, IKernelVariant
    {
        sbyte* xq = x.Values(0);
        float* xs = x.Scales(0);
        int* c = x.Corrections(0, F.Bias);
        long ahead = PrefetchRows(rowBytes) * rowBytes;
        Vector256<float> acc0 = Vector256<float>.Zero, acc1 = acc0, acc2 = acc0, acc3 = acc0;
        int blocks = cols / 32, bb = F.BlockBytes, b = 0;
        for (; b + 8 <= blocks; b += 8)
        {
            byte* p0 = row + (long)b * bb, p1 = p0 + rowBytes, p2 = p1 + rowBytes, p3 = p2 + rowBytes;
            if (P.Native)
            {
                // Rows are short (a few hundred bytes), too short for the hardware prefetcher to run ahead: ask for the
                // same blocks some rows ahead.
                for (int line = 0; line < 8 * bb; line += 64)
                {
                    Sse.Prefetch0(p0 + ahead + line);
                    Sse.Prefetch0(p1 + ahead + line);
                    Sse.Prefetch0(p2 + ahead + line);
                    Sse.Prefetch0(p3 + ahead + line);
                }
            }
            Vector256<float> s = Vector256.Load(xs + b);
            (Scales8<F, P>(p0, F.ScaleOffset) * s).Store(scales);
            (Scales8<F, P>(p1, F.ScaleOffset) * s).Store(scales + 8);
            (Scales8<F, P>(p2, F.ScaleOffset) * s).Store(scales + 16);
            (Scales8<F, P>(p3, F.ScaleOffset) * s).Store(scales + 24);
            for (int j = 0; j < 8; j++)
            {
                Vector256<sbyte> xv = Vector256.Load(xq + (b + j) * 32);
                Vector256<byte> q0 = F.Group(p0 + j * bb, 0), q1 = F.Group(p1 + j * bb, 0);
                acc0 = Vector256.FusedMultiplyAdd(Vector256.ConvertToSingle(Dot<F, P>(q0, Prepare<F, P>(q0), xv, c + (b + j))), Vector256.Create(scales[j]), acc0);
                acc1 = Vector256.FusedMultiplyAdd(Vector256.ConvertToSingle(Dot<F, P>(q1, Prepare<F, P>(q1), xv, c + (b + j))), Vector256.Create(scales[8 + j]), acc1);
                Vector256<byte> q2 = F.Group(p2 + j * bb, 0), q3 = F.Group(p3 + j * bb, 0);
                acc2 = Vector256.FusedMultiplyAdd(Vector256.ConvertToSingle(Dot<F, P>(q2, Prepare<F, P>(q2), xv, c + (b + j))), Vector256.Create(scales[16 + j]), acc2);
                acc3 = Vector256.FusedMultiplyAdd(Vector256.ConvertToSingle(Dot<F, P>(q3, Prepare<F, P>(q3), xv, c + (b + j))), Vector256.Create(scales[24 + j]), acc3);
            }
        }
        for (; b < blocks; b++)
        {
            byte* p0 = row + (long)b * bb, p1 = p0 + rowBytes, p2 = p1 + rowBytes, p3 = p2 + rowBytes;
            Vector256<sbyte> xv = Vector256.Load(xq + b * 32);
            acc0 = TailBlock<F, P>(p0, xv, xs[b], c + b, acc0);
            acc1 = TailBlock<F, P>(p1, xv, xs[b], c + b, acc1);
            acc2 = TailBlock<F, P>(p2, xv, xs[b], c + b, acc2);
            acc3 = TailBlock<F, P>(p3, xv, xs[b], c + b, acc3);
        }
        // As TwoRows and One, which add their (here zero) offsets: + 0 turns a −0 sum into +0 the same way.
        y[0] = Vector256.Sum(acc0) + 0f;
        y[1] = Vector256.Sum(acc1) + 0f;
        y[2] = Vector256.Sum(acc2) + 0f;
        y[3] = Vector256.Sum(acc3) + 0f;
    }

    /// <summary>One block after the last whole group of eight: its scale converted alone.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<float> TailBlock<F, P>(byte* p, Vector256<sbyte> xv, float xs, int* correction, Vector256<float> acc)
        where F : struct, IBlockFormat where P : struct, IKernelVariant
    {
        Vector256<byte> q = F.Group(p, 0);
        return Vector256.FusedMultiplyAdd(Vector256.ConvertToSingle(Dot<F, P>(q, Prepare<F, P>(q), xv, correction)), Vector256.Create(Fp16.Read(p + F.ScaleOffset) * xs), acc);
    }

    /// <summary><see cref="Four{F, P}"/> for rows r and r+1 (formats without minimums), sharing the activation loads.</summary>
    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    private static void TwoByFour<F, P>(byte* row, long rowBytes, int cols, QuantizedActivations x, int t, float* y, int yStride, float* scales)
        where F : struct, IBlockFormat where P : struct, IKernelVariant
    {
        sbyte* q0 = x.Values(t), q1 = x.Values(t + 1), q2 = x.Values(t + 2), q3 = x.Values(t + 3);
        float* s0 = x.Scales(t), s1 = x.Scales(t + 1), s2 = x.Scales(t + 2), s3 = x.Scales(t + 3);
        int* c0 = x.Corrections(t, F.Bias), c1 = x.Corrections(t + 1, F.Bias), c2 = x.Corrections(t + 2, F.Bias), c3 = x.Corrections(t + 3, F.Bias);
        byte* row1 = row + rowBytes;
        Vector256<float> a0 = Vector256<float>.Zero, a1 = a0, a2 = a0, a3 = a0, b0 = a0, b1 = a0, b2 = a0, b3 = a0;
        int blocks = cols / 32, bb = F.BlockBytes, b = 0;
        for (; b + 8 <= blocks; b += 8)
        {
            byte* p = row + (long)b * bb, pr = row1 + (long)b * bb;
            Vector256<float> d = Scales8<F, P>(p, F.ScaleOffset), e = Scales8<F, P>(pr, F.ScaleOffset);
            Vector256<float> t0 = Vector256.Load(s0 + b), t1 = Vector256.Load(s1 + b), t2 = Vector256.Load(s2 + b), t3 = Vector256.Load(s3 + b);
            (d * t0).Store(scales); (d * t1).Store(scales + 8); (d * t2).Store(scales + 16); (d * t3).Store(scales + 24);
            (e * t0).Store(scales + 32); (e * t1).Store(scales + 40); (e * t2).Store(scales + 48); (e * t3).Store(scales + 56);
            for (int j = 0; j < 8; j++)
            {
                Vector256<byte> qa = F.Group(p + j * bb, 0), qb = F.Group(pr + j * bb, 0);
                Vector256<byte> pa = Prepare<F, P>(qa), pb = Prepare<F, P>(qb);
                int i = (b + j) * 32;
                Vector256<sbyte> x0 = Vector256.Load(q0 + i), x1 = Vector256.Load(q1 + i), x2 = Vector256.Load(q2 + i), x3 = Vector256.Load(q3 + i);
                a0 = Vector256.FusedMultiplyAdd(Vector256.ConvertToSingle(Dot<F, P>(qa, pa, x0, c0 + (b + j))), Vector256.Create(scales[j]), a0);
                b0 = Vector256.FusedMultiplyAdd(Vector256.ConvertToSingle(Dot<F, P>(qb, pb, x0, c0 + (b + j))), Vector256.Create(scales[32 + j]), b0);
                a1 = Vector256.FusedMultiplyAdd(Vector256.ConvertToSingle(Dot<F, P>(qa, pa, x1, c1 + (b + j))), Vector256.Create(scales[8 + j]), a1);
                b1 = Vector256.FusedMultiplyAdd(Vector256.ConvertToSingle(Dot<F, P>(qb, pb, x1, c1 + (b + j))), Vector256.Create(scales[40 + j]), b1);
                a2 = Vector256.FusedMultiplyAdd(Vector256.ConvertToSingle(Dot<F, P>(qa, pa, x2, c2 + (b + j))), Vector256.Create(scales[16 + j]), a2);
                b2 = Vector256.FusedMultiplyAdd(Vector256.ConvertToSingle(Dot<F, P>(qb, pb, x2, c2 + (b + j))), Vector256.Create(scales[48 + j]), b2);
                a3 = Vector256.FusedMultiplyAdd(Vector256.ConvertToSingle(Dot<F, P>(qa, pa, x3, c3 + (b + j))), Vector256.Create(scales[24 + j]), a3);
                b3 = Vector256.FusedMultiplyAdd(Vector256.ConvertToSingle(Dot<F, P>(qb, pb, x3, c3 + (b + j))), Vector256.Create(scales[56 + j]), b3);
            }
        }
        for (; b < blocks; b++)
        {
            byte* p = row + (long)b * bb, pr = row1 + (long)b * bb;
            Vector256<byte> qa = F.Group(p, 0), qb = F.Group(pr, 0);
            Vector256<byte> pa = Prepare<F, P>(qa), pb = Prepare<F, P>(qb);
            float d = Fp16.Read(p + F.ScaleOffset), e = Fp16.Read(pr + F.ScaleOffset);
            int i = b * 32;
            Vector256<sbyte> x0 = Vector256.Load(q0 + i), x1 = Vector256.Load(q1 + i), x2 = Vector256.Load(q2 + i), x3 = Vector256.Load(q3 + i);
            a0 = Vector256.FusedMultiplyAdd(Vector256.ConvertToSingle(Dot<F, P>(qa, pa, x0, c0 + b)), Vector256.Create(d * s0[b]), a0);
            b0 = Vector256.FusedMultiplyAdd(Vector256.ConvertToSingle(Dot<F, P>(qb, pb, x0, c0 + b)), Vector256.Create(e * s0[b]), b0);
            a1 = Vector256.FusedMultiplyAdd(Vector256.ConvertToSingle(Dot<F, P>(qa, pa, x1, c1 + b)), Vector256.Create(d * s1[b]), a1);
            b1 = Vector256.FusedMultiplyAdd(Vector256.ConvertToSingle(Dot<F, P>(qb, pb, x1, c1 + b)), Vector256.Create(e * s1[b]), b1);
            a2 = Vector256.FusedMultiplyAdd(Vector256.ConvertToSingle(Dot<F, P>(qa, pa, x2, c2 + b)), Vector256.Create(d * s2[b]), a2);
            b2 = Vector256.FusedMultiplyAdd(Vector256.ConvertToSingle(Dot<F, P>(qb, pb, x2, c2 + b)), Vector256.Create(e * s2[b]), b2);
            a3 = Vector256.FusedMultiplyAdd(Vector256.ConvertToSingle(Dot<F, P>(qa, pa, x3, c3 + b)), Vector256.Create(d * s3[b]), a3);
            b3 = Vector256.FusedMultiplyAdd(Vector256.ConvertToSingle(Dot<F, P>(qb, pb, x3, c3 + b)), Vector256.Create(e * s3[b]), b3);
        }
        // "+ 0f" as One and Four add their offsets, zero for these formats (so a −0 sum becomes +0 on every path alike).
        y[0] = Vector256.Sum(a0) + 0f;
        y[1] = Vector256.Sum(b0) + 0f;
        y[yStride] = Vector256.Sum(a1) + 0f;
        y[yStride + 1] = Vector256.Sum(b1) + 0f;
        y[2L * yStride] = Vector256.Sum(a2) + 0f;
        y[2L * yStride + 1] = Vector256.Sum(b2) + 0f;
        y[3L * yStride] = Vector256.Sum(a3) + 0f;
        y[3L * yStride + 1] = Vector256.Sum(b3) + 0f;
    }

    /// <summary>How many rows ahead decode prefetches: about 4 KB, in whole row pairs (at least two pairs).</summary>
    internal static long PrefetchRows(long rowBytes) => Math.Max(4, (4096 / rowBytes + 1) & ~1L);

    // Not inlined: inside the dispatching method the JIT ran out of registers and kept the accumulators on the stack.
    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    private static void Four<F, P>(byte* row, int cols, QuantizedActivations x, int t, float* y, int yStride, float* scales)
        where F : struct, IBlockFormat where P : struct, IKernelVariant
    {
        sbyte* q0 = x.Values(t), q1 = x.Values(t + 1), q2 = x.Values(t + 2), q3 = x.Values(t + 3);
        float* s0 = x.Scales(t), s1 = x.Scales(t + 1), s2 = x.Scales(t + 2), s3 = x.Scales(t + 3);
        int* c0 = x.Corrections(t, F.Bias), c1 = x.Corrections(t + 1, F.Bias), c2 = x.Corrections(t + 2, F.Bias), c3 = x.Corrections(t + 3, F.Bias);
        Vector256<float> a0 = Vector256<float>.Zero, a1 = a0, a2 = a0, a3 = a0;
        Vector256<float> o0 = a0, o1 = a0, o2 = a0, o3 = a0;
        float t0 = 0, t1 = 0, t2 = 0, t3 = 0;
        int blocks = cols / 32, bb = F.BlockBytes, b = 0;
        for (; b + 8 <= blocks; b += 8)
        {
            byte* p = row + (long)b * bb;
            Vector256<float> d = Scales8<F, P>(p, F.ScaleOffset);
            (d * Vector256.Load(s0 + b)).Store(scales);
            (d * Vector256.Load(s1 + b)).Store(scales + 8);
            (d * Vector256.Load(s2 + b)).Store(scales + 16);
            (d * Vector256.Load(s3 + b)).Store(scales + 24);
            if (F.MinOffset >= 0)
            {
                Vector256<float> m = Scales8<F, P>(p, F.MinOffset);
                o0 = Vector256.FusedMultiplyAdd(m, Vector256.Load(x.BlockSums(t) + b), o0);
                o1 = Vector256.FusedMultiplyAdd(m, Vector256.Load(x.BlockSums(t + 1) + b), o1);
                o2 = Vector256.FusedMultiplyAdd(m, Vector256.Load(x.BlockSums(t + 2) + b), o2);
                o3 = Vector256.FusedMultiplyAdd(m, Vector256.Load(x.BlockSums(t + 3) + b), o3);
            }
            for (int j = 0; j < 8; j++)
            {
                Vector256<byte> q = F.Group(p + j * bb, 0);
                Vector256<byte> prepared = Prepare<F, P>(q);
                int i = (b + j) * 32;
                a0 = Vector256.FusedMultiplyAdd(Vector256.ConvertToSingle(Dot<F, P>(q, prepared, Vector256.Load(q0 + i), c0 + (b + j))), Vector256.Create(scales[j]), a0);
                a1 = Vector256.FusedMultiplyAdd(Vector256.ConvertToSingle(Dot<F, P>(q, prepared, Vector256.Load(q1 + i), c1 + (b + j))), Vector256.Create(scales[8 + j]), a1);
                a2 = Vector256.FusedMultiplyAdd(Vector256.ConvertToSingle(Dot<F, P>(q, prepared, Vector256.Load(q2 + i), c2 + (b + j))), Vector256.Create(scales[16 + j]), a2);
                a3 = Vector256.FusedMultiplyAdd(Vector256.ConvertToSingle(Dot<F, P>(q, prepared, Vector256.Load(q3 + i), c3 + (b + j))), Vector256.Create(scales[24 + j]), a3);
            }
        }
        for (; b < blocks; b++)
        {
            byte* p = row + (long)b * bb;
            Vector256<byte> q = F.Group(p, 0);
            Vector256<byte> prepared = Prepare<F, P>(q);
            float d = Fp16.Read(p + F.ScaleOffset);
            int i = b * 32;
            a0 = Vector256.FusedMultiplyAdd(Vector256.ConvertToSingle(Dot<F, P>(q, prepared, Vector256.Load(q0 + i), c0 + b)), Vector256.Create(d * s0[b]), a0);
            a1 = Vector256.FusedMultiplyAdd(Vector256.ConvertToSingle(Dot<F, P>(q, prepared, Vector256.Load(q1 + i), c1 + b)), Vector256.Create(d * s1[b]), a1);
            a2 = Vector256.FusedMultiplyAdd(Vector256.ConvertToSingle(Dot<F, P>(q, prepared, Vector256.Load(q2 + i), c2 + b)), Vector256.Create(d * s2[b]), a2);
            a3 = Vector256.FusedMultiplyAdd(Vector256.ConvertToSingle(Dot<F, P>(q, prepared, Vector256.Load(q3 + i), c3 + b)), Vector256.Create(d * s3[b]), a3);
            if (F.MinOffset >= 0)
            {
                float m = Fp16.Read(p + F.MinOffset);
                t0 += m * x.BlockSums(t)[b];
                t1 += m * x.BlockSums(t + 1)[b];
                t2 += m * x.BlockSums(t + 2)[b];
                t3 += m * x.BlockSums(t + 3)[b];
            }
        }
        y[0] = Vector256.Sum(a0) + (Vector256.Sum(o0) + t0);
        y[yStride] = Vector256.Sum(a1) + (Vector256.Sum(o1) + t1);
        y[2L * yStride] = Vector256.Sum(a2) + (Vector256.Sum(o2) + t2);
        y[3L * yStride] = Vector256.Sum(a3) + (Vector256.Sum(o3) + t3);
    }

    /// <summary>The fp16 field at <paramref name="offset"/> of eight consecutive blocks, as fp32 (exact).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<float> Scales8<F, P>(byte* p, int offset) where F : struct, IBlockFormat where P : struct, IKernelVariant
    {
        int bb = F.BlockBytes;
        // Eight scalar loads: AVX2's gather was measured slower here, above all when the weights stream from memory.
        ushort* h = (ushort*)(p + offset);
        int step = bb / 2;   // block sizes are even
        Vector256<uint> bits = Vector256.Create(h[0], h[step], h[2 * step], h[3 * step], h[4 * step], h[5 * step], h[6 * step], (uint)h[7 * step]);
        return HalfRows.F16(bits);
    }

    /// <summary>What the weights contribute to every token's product: |q| for signed values on x86, else q itself.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<byte> Prepare<F, P>(Vector256<byte> q) where F : struct, IBlockFormat where P : struct, IKernelVariant =>
        P.Native && !F.Unsigned ? Avx2.Abs(q.AsSByte()) : q;

    /// <summary>
    /// Eight int32 lanes, lane i = Σ of products 4i..4i+3 (exact); for formats with a bias (Q4_0, Q5_0) lane 0 starts at
    /// the block's <c>−bias · Σx</c> (<paramref name="correction"/>), so that the lanes add up to Σ (q − bias) · x exactly.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<int> Dot<F, P>(Vector256<byte> q, Vector256<byte> prepared, Vector256<sbyte> x, int* correction)
        where F : struct, IBlockFormat where P : struct, IKernelVariant
    {
        Vector256<int> start = F.Bias != 0 ? Vector256.CreateScalar(*correction) : Vector256<int>.Zero;
        if (!P.Native)
            return start + Int8Dot.Quads(q.AsSByte(), x, native: false);
        // Signed weights: |w| · sign(x, w) = w · x, as u8 × s8 (activations are never −128 in Block32).
        Vector256<sbyte> xs = F.Unsigned ? x : Avx2.Sign(x, q.AsSByte());
        if (AvxVnni.IsSupported)
            return AvxVnni.MultiplyWideningAndAdd(start, prepared, xs);
        return start + Avx2.MultiplyAddAdjacent(Avx2.MultiplyAddAdjacent(prepared, xs), Vector256.Create((short)1));
    }
}
