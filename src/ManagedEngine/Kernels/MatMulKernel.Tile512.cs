using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace MlPipelines.ManagedEngine.Kernels;

/// <summary>
/// How a row's columns become fp32 lanes for <see cref="MatMulKernel.Tile4x6Of512{L}"/>: fp32 rows as they are, or
/// rows stored in another precision converted in registers (as a generic argument, so each tile compiles branch-free).
/// </summary>
internal unsafe interface IRowLanes
{
    /// <summary>Columns k..k+15 of the row at <paramref name="row"/>.</summary>
    static abstract Vector512<float> Load16(byte* row, int k);

    /// <summary>Columns k..k+7 of the row at <paramref name="row"/>.</summary>
    static abstract Vector256<float> Load8(byte* row, int k);
}

/// <summary>fp32 rows.</summary>
internal readonly unsafe struct F32Lanes : IRowLanes
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> Load16(byte* row, int k) => Vector512.Load((float*)row + k);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Load8(byte* row, int k) => Vector256.Load((float*)row + k);
}

internal static unsafe partial class MatMulKernel
{
    /// <summary>
    /// Four rows × six tokens with 512-bit registers, each holding one (row, token) pair's sixteen lanes, so every pair
    /// sums exactly as in the 256-bit kernels (the same lanes, the same fused multiply-adds in the same order, the same
    /// reduction) and the bits do not depend on the vector width. Rows are <paramref name="wStride"/> bytes apart and
    /// read through <typeparamref name="L"/>; rows that are not fp32 must have no tail (columns a multiple of 8).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static void Tile4x6Of512<L>(byte* w0, long wStride, int cols, float* x0, int xStride, float* y, int yStride, bool native)
        where L : struct, IRowLanes => Tile4xNOf512<L, Six>(w0, wStride, cols, x0, xStride, y, yStride, native);

    /// <summary>
    /// <see cref="Tile4x6Of512{L}"/> for 1 to 5 tokens (the tokens a chunk has past its last six), one compiled tile per
    /// count.
    /// </summary>
    internal static void Tile4xFewOf512<L>(int tokens, byte* w0, long wStride, int cols, float* x0, int xStride, float* y, int yStride, bool native)
        where L : struct, IRowLanes
    {
        switch (tokens)
        {
            case 1: Tile4xNOf512<L, One>(w0, wStride, cols, x0, xStride, y, yStride, native); break;
            case 2: Tile4xNOf512<L, Two>(w0, wStride, cols, x0, xStride, y, yStride, native); break;
            case 3: Tile4xNOf512<L, Three>(w0, wStride, cols, x0, xStride, y, yStride, native); break;
            case 4: Tile4xNOf512<L, Four>(w0, wStride, cols, x0, xStride, y, yStride, native); break;
            case 5: Tile4xNOf512<L, Five>(w0, wStride, cols, x0, xStride, y, yStride, native); break;
            default: throw new ArgumentOutOfRangeException(nameof(tokens), tokens, "1 to 5 tokens.");
        }
    }

    private interface ITokenCount { static abstract int Count { get; } }
    private readonly struct One : ITokenCount { public static int Count => 1; }
    private readonly struct Two : ITokenCount { public static int Count => 2; }
    private readonly struct Three : ITokenCount { public static int Count => 3; }
    private readonly struct Four : ITokenCount { public static int Count => 4; }
    private readonly struct Five : ITokenCount { public static int Count => 5; }
    private readonly struct Six : ITokenCount { public static int Count => 6; }

    /// <summary>Four rows × <typeparamref name="N"/> tokens: the count is a constant of each compiled tile, so the unused accumulators vanish.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Tile4xNOf512<L, N>(byte* w0, long wStride, int cols, float* x0, int xStride, float* y, int yStride, bool native)
        where L : struct, IRowLanes where N : struct, ITokenCount
    {
        int n = N.Count;
        byte* w1 = w0 + wStride, w2 = w1 + wStride, w3 = w2 + wStride;
        float* x1 = x0 + xStride, x2 = x1 + xStride, x3 = x2 + xStride, x4 = x3 + xStride, x5 = x4 + xStride;
        Vector512<float> a00 = default, a10 = default, a20 = default, a30 = default;
        Vector512<float> a01 = default, a11 = default, a21 = default, a31 = default;
        Vector512<float> a02 = default, a12 = default, a22 = default, a32 = default;
        Vector512<float> a03 = default, a13 = default, a23 = default, a33 = default;
        Vector512<float> a04 = default, a14 = default, a24 = default, a34 = default;
        Vector512<float> a05 = default, a15 = default, a25 = default, a35 = default;
        int k = 0;
        for (; k + 16 <= cols; k += 16)
        {
            Vector512<float> r0 = L.Load16(w0, k), r1 = L.Load16(w1, k), r2 = L.Load16(w2, k), r3 = L.Load16(w3, k);
            Vector512<float> v = Vector512.Load(x0 + k);
            a00 = Vector512.FusedMultiplyAdd(r0, v, a00);
            a10 = Vector512.FusedMultiplyAdd(r1, v, a10);
            a20 = Vector512.FusedMultiplyAdd(r2, v, a20);
            a30 = Vector512.FusedMultiplyAdd(r3, v, a30);
            if (n > 1)
            {
                v = Vector512.Load(x1 + k);
                a01 = Vector512.FusedMultiplyAdd(r0, v, a01);
                a11 = Vector512.FusedMultiplyAdd(r1, v, a11);
                a21 = Vector512.FusedMultiplyAdd(r2, v, a21);
                a31 = Vector512.FusedMultiplyAdd(r3, v, a31);
            }
            if (n > 2)
            {
                v = Vector512.Load(x2 + k);
                a02 = Vector512.FusedMultiplyAdd(r0, v, a02);
                a12 = Vector512.FusedMultiplyAdd(r1, v, a12);
                a22 = Vector512.FusedMultiplyAdd(r2, v, a22);
                a32 = Vector512.FusedMultiplyAdd(r3, v, a32);
            }
            if (n > 3)
            {
                v = Vector512.Load(x3 + k);
                a03 = Vector512.FusedMultiplyAdd(r0, v, a03);
                a13 = Vector512.FusedMultiplyAdd(r1, v, a13);
                a23 = Vector512.FusedMultiplyAdd(r2, v, a23);
                a33 = Vector512.FusedMultiplyAdd(r3, v, a33);
            }
            if (n > 4)
            {
                v = Vector512.Load(x4 + k);
                a04 = Vector512.FusedMultiplyAdd(r0, v, a04);
                a14 = Vector512.FusedMultiplyAdd(r1, v, a14);
                a24 = Vector512.FusedMultiplyAdd(r2, v, a24);
                a34 = Vector512.FusedMultiplyAdd(r3, v, a34);
            }
            if (n > 5)
            {
                v = Vector512.Load(x5 + k);
                a05 = Vector512.FusedMultiplyAdd(r0, v, a05);
                a15 = Vector512.FusedMultiplyAdd(r1, v, a15);
                a25 = Vector512.FusedMultiplyAdd(r2, v, a25);
                a35 = Vector512.FusedMultiplyAdd(r3, v, a35);
            }
        }
        Finish4<L>(a00, a10, a20, a30, w0, wStride, x0, k, cols, y, native);
        if (n > 1) Finish4<L>(a01, a11, a21, a31, w0, wStride, x1, k, cols, y + yStride, native);
        if (n > 2) Finish4<L>(a02, a12, a22, a32, w0, wStride, x2, k, cols, y + 2L * yStride, native);
        if (n > 3) Finish4<L>(a03, a13, a23, a33, w0, wStride, x3, k, cols, y + 3L * yStride, native);
        if (n > 4) Finish4<L>(a04, a14, a24, a34, w0, wStride, x4, k, cols, y + 4L * yStride, native);
        if (n > 5) Finish4<L>(a05, a15, a25, a35, w0, wStride, x5, k, cols, y + 5L * yStride, native);
    }

    /// <summary>
    /// <see cref="Finish"/> for four consecutive rows and one token, stored to <c>y[0..3]</c>. Without a tail the four
    /// sums come from three horizontal adds, which pair the lanes exactly as <see cref="Vector256.Sum{T}"/> does
    /// (((0+1)+(2+3)) + ((4+5)+(6+7)), addition being commutative), so the bits are the same as four separate sums at a
    /// fraction of the instructions.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Finish4<L>(Vector512<float> a0, Vector512<float> a1, Vector512<float> a2, Vector512<float> a3,
        byte* w0, long wStride, float* x, int k, int cols, float* y, bool native) where L : struct, IRowLanes
    {
        Vector256<float> lo0 = a0.GetLower(), lo1 = a1.GetLower(), lo2 = a2.GetLower(), lo3 = a3.GetLower();
        if (k + 8 <= cols)
        {
            Vector256<float> v = Vector256.Load(x + k);
            lo0 = Vector256.FusedMultiplyAdd(L.Load8(w0, k), v, lo0);
            lo1 = Vector256.FusedMultiplyAdd(L.Load8(w0 + wStride, k), v, lo1);
            lo2 = Vector256.FusedMultiplyAdd(L.Load8(w0 + 2 * wStride, k), v, lo2);
            lo3 = Vector256.FusedMultiplyAdd(L.Load8(w0 + 3 * wStride, k), v, lo3);
            k += 8;
        }
        Vector256<float> s0 = lo0 + a0.GetUpper(), s1 = lo1 + a1.GetUpper(), s2 = lo2 + a2.GetUpper(), s3 = lo3 + a3.GetUpper();
        if (native && k == cols && Avx.IsSupported)
        {
            Vector256<float> sums = Avx.HorizontalAdd(Avx.HorizontalAdd(s0, s1), Avx.HorizontalAdd(s2, s3));
            (sums.GetLower() + sums.GetUpper()).Store(y);
            return;
        }
        // A tail (only fp32 rows have one).
        y[0] = Reduce(s0, (float*)w0, x, k, cols, native);
        y[1] = Reduce(s1, (float*)(w0 + wStride), x, k, cols, native);
        y[2] = Reduce(s2, (float*)(w0 + 2 * wStride), x, k, cols, native);
        y[3] = Reduce(s3, (float*)(w0 + 3 * wStride), x, k, cols, native);
    }
}
