using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace MlPipelines.ManagedEngine.Kernels;

/// <summary>
/// Exact int8 dot products for the Q8 kernels. The building block sums products in fours: int32 lane <c>j</c> holds
/// <c>Σ_{i&lt;4} w[4j+i] · x[4j+i]</c>. That lane layout matters even though the integer sums are exact, because the
/// Q8 row kernels convert each lane to fp32 and accumulate lane-wise, so every path produces exactly these lanes.
/// </summary>
/// <remarks>
/// Activations are quantised to [-127, 127]; weights may hold -128 (a malformed file). Every product is then at
/// most 128 · 127 = 16256 in magnitude and a pair of them at most 32512, so both fit in int16 without saturating —
/// the bound both the AVX2 idiom and the portable path rely on.
/// </remarks>
internal static unsafe class Int8Dot
{
    /// <summary>
    /// 32 products summed in fours into eight int32 lanes; <paramref name="native"/>: whether AVX2/AVX-VNNI byte
    /// multiply-adds may be used (the same lanes, fewer instructions).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<int> Quads(Vector256<sbyte> w, Vector256<sbyte> x, bool native)
    {
        if (native && Avx2.IsSupported)
        {
            // llama.cpp's idiom: maddubs(|w|, sign(x, w)) multiplies unsigned by signed bytes into int16 pairs.
            Vector256<byte> absW = Avx2.Abs(w);
            Vector256<sbyte> signedX = Avx2.Sign(x, w);
            if (AvxVnni.IsSupported)
                return AvxVnni.MultiplyWideningAndAdd(Vector256<int>.Zero, absW, signedX);
            Vector256<short> pairs = Avx2.MultiplyAddAdjacent(absW, signedX);
            return Avx2.MultiplyAddAdjacent(pairs, Vector256.Create((short)1));
        }
        (Vector256<short> wLo, Vector256<short> wHi) = Vector256.Widen(w);
        (Vector256<short> xLo, Vector256<short> xHi) = Vector256.Widen(x);
        return PairSums(Vector256.Narrow(PairSums(wLo * xLo), PairSums(wHi * xHi)));
    }

    /// <summary>16 products summed in fours into four int32 lanes (lanes 0–3 or 4–7 of <see cref="Quads(Vector256{sbyte}, Vector256{sbyte}, bool)"/>).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<int> Quads(Vector128<sbyte> w, Vector128<sbyte> x)
    {
        (Vector128<short> wLo, Vector128<short> wHi) = Vector128.Widen(w);
        (Vector128<short> xLo, Vector128<short> xHi) = Vector128.Widen(x);
        return PairSums(Vector128.Narrow(PairSums(wLo * xLo), PairSums(wHi * xHi)));
    }

    /// <summary>
    /// Adjacent int16 pairs summed into int32: seen as int32, a lane holds element 2i in its low half and 2i+1 in
    /// its high half; arithmetic shifts sign-extend each. (The portable API has no pairwise add.)
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<int> PairSums(Vector256<short> v)
    {
        Vector256<int> both = v.AsInt32();
        return Vector256.ShiftRightArithmetic(Vector256.ShiftLeft(both, 16), 16) + Vector256.ShiftRightArithmetic(both, 16);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector128<int> PairSums(Vector128<short> v)
    {
        Vector128<int> both = v.AsInt32();
        return Vector128.ShiftRightArithmetic(Vector128.ShiftLeft(both, 16), 16) + Vector128.ShiftRightArithmetic(both, 16);
    }

    /// <summary>
    /// Exact dot product of <paramref name="n"/> elements of any length (runs of rows whose groups straddle them).
    /// Integer sums are exact, so every path gives the same result; only the speed differs.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static int Dot(sbyte* w, sbyte* x, int n, KernelPath path)
    {
        int i = 0, sum = 0;
        if (path >= KernelPath.Native256 && Avx2.IsSupported && n >= 8)
        {
            // Runs have arbitrary lengths: 32 at a time, then 16, then 8 (the upper half of the 128-bit register
            // zero, so it adds nothing), and fewer than 8 left for the scalar loop.
            Vector256<int> acc = Vector256<int>.Zero;
            for (; i <= n - 32; i += 32)
                acc += Quads(Vector256.Load(w + i), Vector256.Load(x + i), native: true);
            Vector128<int> acc128 = Vector128<int>.Zero;
            if (i <= n - 16)
            {
                acc128 = Quads16Ssse3(Vector128.Load(w + i), Vector128.Load(x + i));
                i += 16;
            }
            if (i <= n - 8)
            {
                acc128 += Quads16Ssse3(Vector128.CreateScalar(*(long*)(w + i)).AsSByte(), Vector128.CreateScalar(*(long*)(x + i)).AsSByte());
                i += 8;
            }
            sum = Vector256.Sum(acc) + Vector128.Sum(acc128);
        }
        else if (path >= KernelPath.Portable128)
        {
            Vector128<int> acc = Vector128<int>.Zero;
            for (; i <= n - 16; i += 16)
                acc += Quads(Vector128.Load(w + i), Vector128.Load(x + i));
            sum = Vector128.Sum(acc);
        }
        for (; i < n; i++)
            sum += w[i] * x[i];
        return sum;
    }

    /// <summary>The AVX2 idiom on 16 bytes (only called behind <see cref="Avx2.IsSupported"/>, which implies SSSE3).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector128<int> Quads16Ssse3(Vector128<sbyte> w, Vector128<sbyte> x)
    {
        Vector128<short> pairs = Ssse3.MultiplyAddAdjacent(Ssse3.Abs(w), Ssse3.Sign(x, w));
        return Sse2.MultiplyAddAdjacent(pairs, Vector128.Create((short)1));
    }
}
