using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using MlPipelines.ManagedEngine.Kernels;

namespace MlPipelines.ManagedEngine.Quantization;

/// <summary>
/// The row kernels of <see cref="Q8Matrix"/>: one output element is the dot product of one int8 weight row
/// with the int8 activations, summed per group in exact int32 arithmetic and combined in fp32 with the
/// product of the two group scales, group after group in a fixed order (never split across threads).
/// </summary>
/// <remarks>
/// Rows whose groups tile them in multiples of 32 use eight lanes: each 32-element block adds its products in
/// fours into int32 lanes (<see cref="Int8Dot"/>), a group's lanes are converted to fp32 and fused-multiply-added
/// with the group's combined scale, and the lanes are summed at the end as ((0+1)+(2+3)) + ((4+5)+(6+7)). The
/// 256-bit, 128-bit and scalar paths all do exactly that, so they give the same bits. The 512-bit kernel (the default
/// where AVX-512 runs, for groups of 64) has sixteen lanes and unfused adds: its own, equally fixed, order.
/// </remarks>
internal static unsafe class Q8Kernels
{
    /// <summary>
    /// One row whose groups may start anywhere (rows of a straddling tensor, or group sizes the vector
    /// kernels do not cover). The row is cut into runs that lie inside one weight group; each run's integer
    /// dot product is scaled by its weight scale and the matching activation scale.
    /// </summary>
    /// <param name="w">The row's first weight.</param>
    /// <param name="ws">Scale of the weight group holding the row's first element; later groups follow.</param>
    /// <param name="phase">Offset of the row's first element inside its weight group.</param>
    /// <param name="xq">Activations quantised for this phase.</param>
    /// <param name="xs">Their scales, one per run.</param>
    /// <param name="cols">Row length.</param>
    /// <param name="groupSize">Elements per weight group.</param>
    /// <param name="path">Which kernels the integer dot products use (all exact).</param>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static float RowSegments(sbyte* w, float* ws, int phase, sbyte* xq, float* xs, int cols, int groupSize, KernelPath path)
    {
        float acc = 0f;
        int c = 0, j = 0;
        while (c < cols)
        {
            int len = Math.Min(groupSize - (j == 0 ? phase : 0), cols - c);
            int dot = Int8Dot.Dot(w + c, xq + c, len, path);
            acc += dot * (ws[j] * xs[j]);
            c += len;
            j++;
        }
        return acc;
    }

    /// <summary>
    /// One row of a matrix whose groups tile each row (phase 0) with a group size that is a multiple of 32.
    /// Each group's int32 lanes are converted to fp32 and accumulated lane-wise with the group's combined
    /// scale; the eight lanes are summed at the end. <paramref name="native"/>: whether x86 byte multiply-adds may be
    /// used (see <see cref="Int8Dot.Quads(Vector256{sbyte}, Vector256{sbyte}, bool)"/>).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static float Row256(sbyte* w, float* ws, sbyte* xq, float* xs, int groups, int groupSize, bool native) =>
        // Each call site gets a constant, so the unused byte product is not compiled into the loop.
        native ? Row256Of(w, ws, xq, xs, groups, groupSize, native: true) : Row256Of(w, ws, xq, xs, groups, groupSize, native: false);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static float Row256Of(sbyte* w, float* ws, sbyte* xq, float* xs, int groups, int groupSize, bool native)
    {
        Vector256<float> acc = Vector256<float>.Zero;
        for (int g = 0; g < groups; g++)
            acc = AddGroup(acc, w + g * groupSize, ws[g], xq + g * groupSize, xs[g], groupSize, native);
        return Sum(acc, native);
    }

    /// <summary>
    /// <see cref="Row256"/> for two consecutive rows at once: two independent accumulator chains hide the
    /// multiply-add latency that one row's chain is bound by. Each row's arithmetic is unchanged.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void TwoRows256(sbyte* w, float* ws, sbyte* xq, float* xs, int groups, int groupSize, float* y, bool native)
    {
        if (native)
            TwoRows256Of(w, ws, xq, xs, groups, groupSize, y, native: true);
        else
            TwoRows256Of(w, ws, xq, xs, groups, groupSize, y, native: false);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void TwoRows256Of(sbyte* w, float* ws, sbyte* xq, float* xs, int groups, int groupSize, float* y, bool native)
    {
        int cols = groups * groupSize;
        Vector256<float> acc0 = Vector256<float>.Zero, acc1 = Vector256<float>.Zero;
        for (int g = 0; g < groups; g++)
        {
            sbyte* xg = xq + g * groupSize;
            acc0 = AddGroup(acc0, w + g * groupSize, ws[g], xg, xs[g], groupSize, native);
            acc1 = AddGroup(acc1, w + cols + g * groupSize, ws[groups + g], xg, xs[g], groupSize, native);
        }
        y[0] = Sum(acc0, native);
        y[1] = Sum(acc1, native);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<float> AddGroup(Vector256<float> acc, sbyte* wg, float wScale, sbyte* xg, float xScale, int groupSize, bool native)
    {
        Vector256<int> isum = Int8Dot.Quads(Vector256.Load(wg), Vector256.Load(xg), native);
        for (int k = 32; k < groupSize; k += 32)
            isum += Int8Dot.Quads(Vector256.Load(wg + k), Vector256.Load(xg + k), native);
        return Vector256.FusedMultiplyAdd(Vector256.ConvertToSingle(isum), Vector256.Create(wScale * xScale), acc);
    }

    /// <summary>Both sums pair the lanes the same way (the tests check it); the hardware one is shorter.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static float Sum(Vector256<float> acc, bool native) => native ? Vector256.Sum(acc) : KernelPaths.Sum8(acc);

    /// <summary><see cref="Row256"/> with each eight-lane vector held as two 128-bit halves (the same bits).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static float Row128(sbyte* w, float* ws, sbyte* xq, float* xs, int groups, int groupSize)
    {
        Vector128<float> lo = Vector128<float>.Zero, hi = Vector128<float>.Zero;
        for (int g = 0; g < groups; g++)
        {
            sbyte* wg = w + g * groupSize, xg = xq + g * groupSize;
            Vector128<int> isumLo = Vector128<int>.Zero, isumHi = Vector128<int>.Zero;
            for (int k = 0; k < groupSize; k += 32)
            {
                isumLo += Int8Dot.Quads(Vector128.Load(wg + k), Vector128.Load(xg + k));
                isumHi += Int8Dot.Quads(Vector128.Load(wg + k + 16), Vector128.Load(xg + k + 16));
            }
            Vector128<float> d = Vector128.Create(ws[g] * xs[g]);
            lo = Vector128.FusedMultiplyAdd(Vector128.ConvertToSingle(isumLo), d, lo);
            hi = Vector128.FusedMultiplyAdd(Vector128.ConvertToSingle(isumHi), d, hi);
        }
        return KernelPaths.Sum8(lo, hi);
    }

    /// <summary><see cref="Row256"/> in scalars: eight int32 and eight fp32 accumulators standing in for the lanes.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static float RowScalar(sbyte* w, float* ws, sbyte* xq, float* xs, int groups, int groupSize)
    {
        Span<float> acc = stackalloc float[8];
        acc.Clear();
        for (int g = 0; g < groups; g++)
        {
            sbyte* wg = w + g * groupSize, xg = xq + g * groupSize;
            float d = ws[g] * xs[g];
            for (int lane = 0; lane < 8; lane++)
            {
                int isum = 0;
                for (int k = 4 * lane; k < groupSize; k += 32)
                    isum += wg[k] * xg[k] + wg[k + 1] * xg[k + 1] + wg[k + 2] * xg[k + 2] + wg[k + 3] * xg[k + 3];
                acc[lane] = MathF.FusedMultiplyAdd(isum, d, acc[lane]);
            }
        }
        return KernelPaths.Sum8(acc);
    }

    /// <summary>
    /// As <see cref="Row256"/> with 512-bit vectors, for group sizes that are multiples of 64. Written with the
    /// portable <see cref="Vector512"/> API (AVX-512BW multiply-add when present), so it also runs, slowly, in
    /// software on machines without AVX-512, which is how the tests check it there.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static float RowVector512(sbyte* w, float* ws, sbyte* xq, float* xs, int cols, int groupSize)
    {
        Vector512<float> acc = Vector512<float>.Zero;
        int groups = cols / groupSize;
        for (int g = 0; g < groups; g++)
        {
            Vector512<int> isum = Vector512<int>.Zero;
            for (int k = 0; k < groupSize; k += 64)
                isum += Dot64(Vector512.Load(w + g * groupSize + k), Vector512.Load(xq + g * groupSize + k));
            acc += Vector512.ConvertToSingle(isum) * Vector512.Create(ws[g] * xs[g]);
        }
        return Vector512.Sum(acc);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<int> Dot64(Vector512<sbyte> w, Vector512<sbyte> x)
    {
        (Vector512<short> wLo, Vector512<short> wHi) = Vector512.Widen(w);
        (Vector512<short> xLo, Vector512<short> xHi) = Vector512.Widen(x);
        if (Avx512BW.IsSupported)
            return Avx512BW.MultiplyAddAdjacent(wLo, xLo) + Avx512BW.MultiplyAddAdjacent(wHi, xHi);
        // |product| <= 128 · 127 = 16256, so int16 products are exact; widen before adding.
        (Vector512<int> a, Vector512<int> b) = Vector512.Widen(wLo * xLo);
        (Vector512<int> c, Vector512<int> d) = Vector512.Widen(wHi * xHi);
        return a + b + c + d;
    }
}
