using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using MlPipelines.ManagedEngine.Kernels;

namespace MlPipelines.ManagedEngine.WeightStorage;

/// <summary>
/// Decode (one token) on fp16 or bf16 weights without a widened copy: each group of eight halves becomes fp32 lanes in
/// registers and goes straight into the fused multiply-add, so the weights are read once, at half the bytes of fp32.
/// <para>
/// .NET has no F16C conversion, so an fp16 value is turned into fp32 bits with two integer operations that are exact
/// for every finite half, subnormals included: the sign-extended bits shifted left by 13 put exponent and mantissa where
/// fp32 keeps them, and a mask clears the sign's copies in the exponent. Read as fp32 the lane is then <c>w · 2^-112</c>
/// (the exponent bias of fp32 less that of fp16), so the activations are scaled by <c>2^112</c> once per call instead:
/// the real product <c>(w · 2^-112) · (x · 2^112)</c> is <c>w · x</c> exactly, and the fused multiply-add rounds it
/// exactly as the fp32 kernels do on the widened weights. The bits equal <see cref="MatMulKernel"/>'s on the widened row
/// (same sixteen-lane accumulators, same lane sums). Two cases would break the identity, and those calls take the widening
/// path: an activation of magnitude 2^16 or more (its scaled copy would overflow) or not a number, and a matrix holding
/// fp16 infinities or NaNs (the shift does not map them; <see cref="HasSpecialHalves"/> finds them once per matrix).
/// bf16 needs neither: its bits shifted left by 16 are the fp32 value.
/// </para>
/// </summary>
internal static unsafe partial class HalfRows
{
    /// <summary>2^112: fp32's exponent bias less fp16's, the factor the shifted fp16 bits are short of.</summary>
    /// <summary>
    /// How far ahead of each stream the decode kernels prefetch. Short on purpose: the hardware prefetcher runs far ahead
    /// on its own, and a line or eight ahead only starts each 4 KB page (whose translation and first lines it waits for)
    /// before the stream gets there. Measured on a Zen 4 core, llama3-1b fp16, one thread: two rows ahead (8 KB) 8.4–9.1
    /// tok/s; 256 B and 512 B 10.2–11.0; 768 B 9.4–9.5; 1 KB 9.1–10.1; 2 KB 10.2–10.3; 4 KB 9.5; 16 KB 8.1–8.3.
    /// </summary>
    private const long PrefetchBytes = 512;
    private const float F16Rebias = 5.192296858534828e33f;

    /// <summary>Activations must stay below 2^16 in magnitude for <c>x · 2^112</c> to stay finite (2^128 overflows).</summary>
    private const float F16ActivationLimit = 65536f;

    /// <summary>Keeps the sign and the shifted exponent and mantissa of a sign-extended fp16 value shifted left by 13.</summary>
    private const int ShiftedMask = unchecked((int)0x8FFF_E000);

    [ThreadStatic] private static float[]? t_scaled;

    /// <summary>Whether any fp16 value in <paramref name="count"/> halves is an infinity or a NaN (exponent bits all ones).</summary>
    public static bool HasSpecialHalves(ushort* halves, long count)
    {
        long i = 0;
        var exponent = Vector256.Create((ushort)0x7C00);
        for (; i + 16 <= count; i += 16)
            if (Vector256.EqualsAny(Vector256.Load(halves + i) & exponent, exponent))
                return true;
        for (; i < count; i++)
            if ((halves[i] & 0x7C00) == 0x7C00)
                return true;
        return false;
    }

    /// <summary>
    /// One token's rows <paramref name="rowStart"/>..<paramref name="rowEnd"/> with the halves converted in registers, if
    /// this call can give the widening path's bits (see the class remarks); false, having written nothing, if not.
    /// </summary>
    /// <remarks><paramref name="specials"/>: whether the matrix holds fp16 infinities or NaNs (<see cref="HasSpecialHalves"/>).
    /// <paramref name="rebiased"/>: <c>x · 2^112</c> already computed by the caller (<see cref="Rebias"/>, once for all
    /// threads), or null to compute it here.</remarks>
    public static bool TryDecode(ushort* w, bool bf16, bool specials, int cols, float* x, float* rebiased, float* y, int rowStart, int rowEnd,
        KernelPath path)
    {
        // The scalar and 128-bit paths keep the widening (they are the plain references the fused kernel is tested against).
        if (path < KernelPath.Portable256 || cols % 8 != 0 || (!bf16 && specials))
            return false;
        float* xs = x;
        if (!bf16)
        {
            if (rebiased is null)
            {
                rebiased = ScaledBuffer(cols);
                if (!Rebias(x, cols, rebiased))
                    return false;
            }
            xs = rebiased;
        }
        bool native = path >= KernelPath.Native256 && Avx2.IsSupported;
        bool wide = !bf16 && path == KernelPath.Native512 && Avx512F.IsSupported;
        if (bf16 && native) Rows<Bf16Native>(w, cols, xs, y, rowStart, rowEnd, wide: false);
        else if (bf16) Rows<Bf16Portable>(w, cols, xs, y, rowStart, rowEnd, wide: false);
        else if (native) Rows<F16Native>(w, cols, xs, y, rowStart, rowEnd, wide);
        else Rows<F16Portable>(w, cols, xs, y, rowStart, rowEnd, wide: false);
        return true;
    }

    /// <summary>This thread's pinned buffer for rebiased activations, at least <paramref name="count"/> long (grown, never per call).</summary>
    private static float* ScaledBuffer(int count)
    {
        if (t_scaled is not { } s || s.Length < count)
            t_scaled = s = GC.AllocateArray<float>(count, pinned: true);
        return (float*)Unsafe.AsPointer(ref s[0]);
    }

    /// <summary>
    /// <c>x · 2^112</c> into <paramref name="scaled"/>, the activations of the fp16 kernels' identity (see the class
    /// remarks); false if some activation is too large for that or not a number (the widening path then serves).
    /// </summary>
    public static bool Rebias(float* x, int count, float* scaled)
    {
        var limit = Vector256.Create(F16ActivationLimit);
        var factor = Vector256.Create(F16Rebias);
        int k = 0;
        for (; k + 8 <= count; k += 8)
        {
            Vector256<float> v = Vector256.Load(x + k);
            // LessThan is false for NaN, so a NaN activation also takes the widening path.
            if (!Vector256.LessThanAll(Vector256.Abs(v), limit))
                return false;
            (v * factor).Store(scaled + k);
        }
        for (; k < count; k++)
        {
            if (!(MathF.Abs(x[k]) < F16ActivationLimit))
                return false;
            scaled[k] = x[k] * F16Rebias;
        }
        return true;
    }

    /// <summary>
    /// The rows as two sequential streams, one from the start of the range and one from its middle, a row of each at a
    /// time (and the last row alone when the count is odd). One row's sixteen lanes are a single dependency chain, too
    /// slow alone at half precision's byte rate; two neighbouring rows at a time are two streams 4·cols bytes apart
    /// that jump at every pair, which the hardware prefetcher follows poorly. Two halves of the range are two long
    /// sequential reads. Measured on llama3-1b's fp16 rows (one thread, 2 GB): 20–22 GB/s for neighbouring pairs,
    /// 27–28 GB/s for the two streams, ggml's one-row fp16 dot product 20–25.
    /// </summary>
    private static void Rows<H>(ushort* w, int cols, float* x, float* y, int rowStart, int rowEnd, bool wide) where H : struct, IHalfLanes
    {
        int half = (rowEnd - rowStart) / 2;
        ushort* w0 = w + (long)rowStart * cols, w1 = w0 + (long)half * cols;
        float* y0 = y + rowStart, y1 = y0 + half;
        for (int i = 0; i < half; i++)
        {
            long offset = (long)i * cols;
            if (wide) Pair512(w0 + offset, w1 + offset, cols, x, y0 + i, y1 + i);
            else Pair<H>(w0 + offset, w1 + offset, cols, x, y0 + i, y1 + i);
        }
        if ((rowEnd - rowStart) % 2 != 0)
            y[rowEnd - 1] = One<H>(w + (long)(rowEnd - 1) * cols, cols, x);
    }

    // Two rows from the two streams, each as MatMulKernel's two eight-lane halves: four independent accumulator chains
    // keep both FMA units busy, one activation load serves both rows. The native path fetches each stream's line
    // PrefetchBytes ahead once per 32 columns (a prefetch changes no result).
    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    private static void Pair<H>(ushort* w0, ushort* w1, int cols, float* x, float* y0, float* y1) where H : struct, IHalfLanes
    {
        byte* ahead0 = (byte*)w0 + PrefetchBytes, ahead1 = (byte*)w1 + PrefetchBytes;
        Vector256<float> l0 = default, h0 = default, l1 = default, h1 = default;
        int k = 0;
        for (; k + 16 <= cols; k += 16)
        {
            if (H.Native && (k & 16) == 0)
            {
                Sse.Prefetch0(ahead0 + 2L * k);
                Sse.Prefetch0(ahead1 + 2L * k);
            }
            Vector256<float> vl = Vector256.Load(x + k), vh = Vector256.Load(x + k + 8);
            l0 = Vector256.FusedMultiplyAdd(H.Load(w0 + k), vl, l0);
            h0 = Vector256.FusedMultiplyAdd(H.Load(w0 + k + 8), vh, h0);
            l1 = Vector256.FusedMultiplyAdd(H.Load(w1 + k), vl, l1);
            h1 = Vector256.FusedMultiplyAdd(H.Load(w1 + k + 8), vh, h1);
        }
        if (k < cols)
        {
            // The last eight columns (cols is a multiple of 8) into the low lanes, as MatMulKernel.Finish does.
            Vector256<float> v = Vector256.Load(x + k);
            l0 = Vector256.FusedMultiplyAdd(H.Load(w0 + k), v, l0);
            l1 = Vector256.FusedMultiplyAdd(H.Load(w1 + k), v, l1);
        }
        // No tail past the multiple of 8, so the weight pointer the reduction would read a tail from is never used.
        *y0 = MatMulKernel.Reduce(l0 + h0, null, x, cols, cols, H.Native);
        *y1 = MatMulKernel.Reduce(l1 + h1, null, x, cols, cols, H.Native);
    }

    // Pair on fp16 rows in 512-bit registers: one register per row holds the sixteen lanes (its lower and upper halves
    // are Pair's two chains, so the bits are the same) at half the instructions.
    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    private static void Pair512(ushort* w0, ushort* w1, int cols, float* x, float* y0, float* y1)
    {
        byte* ahead0 = (byte*)w0 + PrefetchBytes, ahead1 = (byte*)w1 + PrefetchBytes;
        Vector512<float> a0 = default, a1 = default;
        int k = 0;
        for (; k + 32 <= cols; k += 32)
        {
            Sse.Prefetch0(ahead0 + 2L * k);
            Sse.Prefetch0(ahead1 + 2L * k);
            Vector512<float> v = Vector512.Load(x + k);
            a0 = Vector512.FusedMultiplyAdd(F16Lanes16(w0 + k), v, a0);
            a1 = Vector512.FusedMultiplyAdd(F16Lanes16(w1 + k), v, a1);
            v = Vector512.Load(x + k + 16);
            a0 = Vector512.FusedMultiplyAdd(F16Lanes16(w0 + k + 16), v, a0);
            a1 = Vector512.FusedMultiplyAdd(F16Lanes16(w1 + k + 16), v, a1);
        }
        if (k + 16 <= cols)
        {
            Vector512<float> v = Vector512.Load(x + k);
            a0 = Vector512.FusedMultiplyAdd(F16Lanes16(w0 + k), v, a0);
            a1 = Vector512.FusedMultiplyAdd(F16Lanes16(w1 + k), v, a1);
            k += 16;
        }
        Vector256<float> l0 = a0.GetLower(), l1 = a1.GetLower();
        if (k < cols)
        {
            Vector256<float> v = Vector256.Load(x + k);
            l0 = Vector256.FusedMultiplyAdd(F16Native.Load(w0 + k), v, l0);
            l1 = Vector256.FusedMultiplyAdd(F16Native.Load(w1 + k), v, l1);
        }
        *y0 = MatMulKernel.Reduce(l0 + a0.GetUpper(), null, x, cols, cols, native: true);
        *y1 = MatMulKernel.Reduce(l1 + a1.GetUpper(), null, x, cols, cols, native: true);
    }

    /// <summary>Sixteen fp16 values as <c>w · 2^-112</c> in a 512-bit register (AVX-512's sign-extending load).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<float> F16Lanes16(ushort* p) =>
        (Avx512F.ShiftLeftLogical(Avx512F.ConvertToVector512Int32(Vector256.Load((short*)p)), 13) & Vector512.Create(ShiftedMask)).AsSingle();

    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    private static float One<H>(ushort* w, int cols, float* x) where H : struct, IHalfLanes
    {
        Vector256<float> lo = default, hi = default;
        int k = 0;
        for (; k + 16 <= cols; k += 16)
        {
            lo = Vector256.FusedMultiplyAdd(H.Load(w + k), Vector256.Load(x + k), lo);
            hi = Vector256.FusedMultiplyAdd(H.Load(w + k + 8), Vector256.Load(x + k + 8), hi);
        }
        if (k < cols)
            lo = Vector256.FusedMultiplyAdd(H.Load(w + k), Vector256.Load(x + k), lo);
        return MatMulKernel.Reduce(lo + hi, null, x, cols, cols, H.Native);
    }

    /// <summary>How eight halves become eight fp32 lanes, as a generic argument so each kernel compiles branch-free.</summary>
    private interface IHalfLanes
    {
        static abstract bool Native { get; }
        static abstract Vector256<float> Load(ushort* p);
    }

    /// <summary>fp16 with AVX2's sign-extending load (<c>vpmovsxwd</c>): lanes are <c>w · 2^-112</c>.</summary>
    private readonly struct F16Native : IHalfLanes
    {
        public static bool Native => true;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector256<float> Load(ushort* p) =>
            (Avx2.ShiftLeftLogical(Avx2.ConvertToVector256Int32((short*)p), 13) & Vector256.Create(ShiftedMask)).AsSingle();
    }

    /// <summary>The same with the portable API.</summary>
    private readonly struct F16Portable : IHalfLanes
    {
        public static bool Native => false;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector256<float> Load(ushort* p)
        {
            Vector128<short> h = Vector128.Load((short*)p);
            Vector256<int> wide = Vector256.Create(Vector128.WidenLower(h), Vector128.WidenUpper(h));
            return (Vector256.ShiftLeft(wide, 13) & Vector256.Create(ShiftedMask)).AsSingle();
        }
    }

    /// <summary>bf16 with AVX2's zero-extending load: the bits shifted by 16 are the value.</summary>
    private readonly struct Bf16Native : IHalfLanes
    {
        public static bool Native => true;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector256<float> Load(ushort* p) => Avx2.ShiftLeftLogical(Avx2.ConvertToVector256Int32(p), 16).AsSingle();
    }

    /// <summary>The same with the portable API.</summary>
    private readonly struct Bf16Portable : IHalfLanes
    {
        public static bool Native => false;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector256<float> Load(ushort* p)
        {
            Vector128<ushort> h = Vector128.Load(p);
            return Vector256.ShiftLeft(Vector256.Create(Vector128.WidenLower(h), Vector128.WidenUpper(h)), 16).AsSingle();
        }
    }
}
