using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace MlPipelines.ManagedEngine.Quantization;

/// <summary>Which implementation of the Q8 row dot product runs.</summary>
internal enum Q8Kernel
{
    /// <summary>Plain C#: the reference the SIMD paths are tested against.</summary>
    Scalar,

    /// <summary>256-bit integer SIMD (AVX2, or AVX-VNNI when present).</summary>
    Avx2,

    /// <summary>512-bit vectors (used when <see cref="Vector512.IsHardwareAccelerated"/>).</summary>
    Vector512,
}

/// <summary>
/// The row kernels of <see cref="Q8Matrix"/>: one output element is the dot product of one int8 weight row
/// with the int8 activations, summed per group in exact int32 arithmetic and combined in fp32 with the
/// product of the two group scales, group after group in a fixed order (never split across threads).
/// </summary>
/// <remarks>
/// Integer dot products use the AVX2 idiom of llama.cpp: <c>maddubs(|w|, sign(x, w))</c> multiplies unsigned
/// by signed bytes into saturating int16 pairs. The weight goes through <c>abs</c> because a (malformed) file
/// may hold -128, whose absolute value 128 is still exact as an unsigned byte; activations are quantised here
/// and stay within [-127, 127], so negating them is safe. A pair sums to at most 2 · 128 · 127 = 32512, below
/// the int16 saturation point, so the result is exact.
/// </remarks>
internal static unsafe class Q8Kernels
{
    /// <summary>The fastest kernel this machine runs.</summary>
    public static Q8Kernel Best { get; } =
        Vector512.IsHardwareAccelerated ? Q8Kernel.Vector512 : Avx2.IsSupported ? Q8Kernel.Avx2 : Q8Kernel.Scalar;

    /// <summary>Exact int8 dot product of <paramref name="n"/> elements; <paramref name="w"/> are weights, <paramref name="x"/> activations.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static int DotInt8(sbyte* w, sbyte* x, int n, bool simd)
    {
        int i = 0, sum = 0;
        if (simd && Avx2.IsSupported && n >= 8)
        {
            // Runs of a straddling row have arbitrary lengths: 32 at a time, then 16, then 8 (the upper half of
            // the 128-bit register zero, so it adds nothing), and fewer than 8 left for the scalar loop.
            Vector256<int> acc = Vector256<int>.Zero;
            for (; i <= n - 32; i += 32)
                acc = Avx2.Add(acc, Dot32(Avx.LoadVector256(w + i), Avx.LoadVector256(x + i)));
            Vector128<int> acc128 = Vector128<int>.Zero;
            if (i <= n - 16)
            {
                acc128 = Dot16(Sse2.LoadVector128(w + i), Sse2.LoadVector128(x + i));
                i += 16;
            }
            if (i <= n - 8)
            {
                acc128 = Sse2.Add(acc128, Dot16(Sse2.LoadScalarVector128((long*)(w + i)).AsSByte(), Sse2.LoadScalarVector128((long*)(x + i)).AsSByte()));
                i += 8;
            }
            sum = Vector256.Sum(acc) + Vector128.Sum(acc128);
        }
        for (; i < n; i++)
            sum += w[i] * x[i];
        return sum;
    }

    /// <summary>32 int8 products summed in fours into eight int32 lanes.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<int> Dot32(Vector256<sbyte> w, Vector256<sbyte> x)
    {
        Vector256<byte> absW = Avx2.Abs(w);
        Vector256<sbyte> signedX = Avx2.Sign(x, w);
        if (AvxVnni.IsSupported)
            return AvxVnni.MultiplyWideningAndAdd(Vector256<int>.Zero, absW, signedX);
        Vector256<short> pairs = Avx2.MultiplyAddAdjacent(absW, signedX);
        return Avx2.MultiplyAddAdjacent(pairs, Vector256.Create((short)1));
    }

    /// <summary>16 int8 products summed in fours into four int32 lanes (same idiom as <see cref="Dot32"/>).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector128<int> Dot16(Vector128<sbyte> w, Vector128<sbyte> x)
    {
        Vector128<short> pairs = Ssse3.MultiplyAddAdjacent(Ssse3.Abs(w), Ssse3.Sign(x, w));
        return Sse2.MultiplyAddAdjacent(pairs, Vector128.Create((short)1));
    }

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
    /// <param name="simd">Whether the integer dot products may use SIMD (false: the scalar reference).</param>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static float RowSegments(sbyte* w, float* ws, int phase, sbyte* xq, float* xs, int cols, int groupSize, bool simd)
    {
        float acc = 0f;
        int c = 0, j = 0;
        while (c < cols)
        {
            int len = Math.Min(groupSize - (j == 0 ? phase : 0), cols - c);
            int dot = DotInt8(w + c, xq + c, len, simd);
            acc += dot * (ws[j] * xs[j]);
            c += len;
            j++;
        }
        return acc;
    }

    /// <summary>
    /// One row of a matrix whose groups tile each row (phase 0) with a group size that is a multiple of 32.
    /// Each group's int32 lanes are converted to fp32 and accumulated lane-wise with the group's combined
    /// scale; the eight lanes are summed at the end.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static float RowAvx2(sbyte* w, float* ws, sbyte* xq, float* xs, int groups, int groupSize)
    {
        Vector256<float> acc = Vector256<float>.Zero;
        for (int g = 0; g < groups; g++)
            acc = AddGroup(acc, w + g * groupSize, ws[g], xq + g * groupSize, xs[g], groupSize);
        return Vector256.Sum(acc);
    }

    /// <summary>
    /// <see cref="RowAvx2"/> for two consecutive rows at once: two independent accumulator chains hide the
    /// multiply-add latency that one row's chain is bound by. Each row's arithmetic is unchanged.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void TwoRowsAvx2(sbyte* w, float* ws, sbyte* xq, float* xs, int groups, int groupSize, float* y)
    {
        int cols = groups * groupSize;
        Vector256<float> acc0 = Vector256<float>.Zero, acc1 = Vector256<float>.Zero;
        for (int g = 0; g < groups; g++)
        {
            sbyte* xg = xq + g * groupSize;
            acc0 = AddGroup(acc0, w + g * groupSize, ws[g], xg, xs[g], groupSize);
            acc1 = AddGroup(acc1, w + cols + g * groupSize, ws[groups + g], xg, xs[g], groupSize);
        }
        y[0] = Vector256.Sum(acc0);
        y[1] = Vector256.Sum(acc1);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<float> AddGroup(Vector256<float> acc, sbyte* wg, float wScale, sbyte* xg, float xScale, int groupSize)
    {
        Vector256<int> isum = Dot32(Avx.LoadVector256(wg), Avx.LoadVector256(xg));
        for (int k = 32; k < groupSize; k += 32)
            isum = Avx2.Add(isum, Dot32(Avx.LoadVector256(wg + k), Avx.LoadVector256(xg + k)));
        Vector256<float> d = Vector256.Create(wScale * xScale);
        Vector256<float> f = Avx.ConvertToVector256Single(isum);
        return Fma.IsSupported ? Fma.MultiplyAdd(f, d, acc) : Avx.Add(Avx.Multiply(f, d), acc);
    }

    /// <summary>
    /// As <see cref="RowAvx2"/> with 512-bit vectors, for group sizes that are multiples of 64. Written with the
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
