using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using MlPipelines.ManagedEngine.Kernels;

namespace MlPipelines.ManagedEngine.WeightStorage;

/// <summary>
/// <c>Y = X Wᵀ</c> for fp16 or bf16 weights used in place: a few rows at a time are widened into a per-thread fp32
/// buffer that stays in cache, and the fp32 kernels (<see cref="MatMulKernel"/>) multiply them, so every output is
/// bit-identical to what the fp32 kernels give on the exactly widened matrix, whatever the thread count. fp16 rows are
/// widened in two operations as <c>w · 2^-112</c> against activations scaled by <c>2^112</c> (the identity of
/// HalfRows.Decode.cs, under the same conditions); otherwise exactly.
/// </summary>
internal static unsafe partial class HalfRows
{
    // Rows widened at a time: eight, one of the fp32 kernel's 512-bit row blocks (two 4-row tiles) or four of its 2-row
    // tiles (fewer rows would leave it fewer tiles). The buffer is 32 KB per thread for rows of 1024, 256 KB
    // for rows of 8192: it stays in L2 while every token of the chunk passes over it.
    private const int TileRows = 8;

    [ThreadStatic] private static float[]? t_buffer;

    /// <summary>Rows <paramref name="rowStart"/>..<paramref name="rowEnd"/> of <c>Y = X Wᵀ</c> for <paramref name="tokens"/> tokens.</summary>
    /// <remarks><paramref name="specials"/>: whether the fp16 matrix holds infinities or NaNs (<see cref="HasSpecialHalves"/>).
    /// <paramref name="rebiased"/>: <c>x · 2^112</c> already computed by the caller (<see cref="Rebias"/>, once for all
    /// threads), or null to compute it here.</remarks>
    public static void Multiply(ushort* w, bool bf16, bool specials, int cols, float* x, float* rebiased, int tokens, float* y, int yStride,
        int rowStart, int rowEnd, KernelPath path)
    {
        int tile = TileRows;
        float[] buffer = t_buffer is { } b && b.Length >= tile * cols ? b : t_buffer = GC.AllocateArray<float>(tile * cols, pinned: true);
        // fp16 rows are widened as w · 2^-112 in two operations per vector, against activations scaled by 2^112 (the
        // decode kernel's identity, see HalfRows.Decode.cs): the exact widening costs a sixth of the products' time.
        bool shifted = false;
        if (!bf16 && !specials && path >= KernelPath.Portable256)
        {
            if (rebiased is null)
            {
                float* scaled = ScaledBuffer(tokens * cols);
                rebiased = Rebias(x, tokens * cols, scaled) ? scaled : null;
            }
            shifted = rebiased is not null;
        }
        fixed (float* rows = buffer)
        {
            float* input = shifted ? rebiased : x;
            int r = rowStart;
            if (shifted && path == KernelPath.Native512 && Avx512F.IsSupported && tokens >= 6 && cols % 8 == 0)
                r = PrefillInRegisters(w, cols, input, tokens, y, yStride, rowStart, rowEnd);
            for (; r < rowEnd; r += tile)
            {
                int n = Math.Min(tile, rowEnd - r);
                if (shifted)
                    WidenShifted(w + (long)r * cols, rows, n * cols, path);
                else
                    Widen(w + (long)r * cols, bf16, rows, n * cols);
                MatMulKernel.Multiply(rows, cols, cols, input, cols, tokens, y + r, yStride, 0, n, path);
            }
        }
    }

    /// <summary>fp16 bits to <c>w · 2^-112</c> as fp32 (exact for every finite half): sign-extend, shift, mask.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void WidenShifted(ushort* source, float* destination, int count, KernelPath path)
    {
        int i = 0;
        if (path == KernelPath.Native512 && Avx512F.IsSupported)
        {
            var mask = Vector512.Create(ShiftedMask);
            for (; i + 16 <= count; i += 16)
                (Avx512F.ShiftLeftLogical(Avx512F.ConvertToVector512Int32(Vector256.Load((short*)source + i)), 13) & mask).AsSingle().Store(destination + i);
        }
        else if (path >= KernelPath.Native256 && Avx2.IsSupported)
        {
            for (; i + 8 <= count; i += 8)
                F16Native.Load(source + i).Store(destination + i);
        }
        else
        {
            for (; i + 8 <= count; i += 8)
                F16Portable.Load(source + i).Store(destination + i);
        }
        for (; i < count; i++)
            destination[i] = BitConverter.Int32BitsToSingle(((short)source[i] << 13) & ShiftedMask);
    }

    /// <summary>Widens <paramref name="count"/> halves exactly (fp16 subnormals, infinities and NaNs included).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Widen(ushort* source, bool bf16, float* destination, int count)
    {
        if (!bf16)
        {
            // The KV cache's widening: a few integer operations per value when a vector holds no zero, subnormal or special.
            KvConvert.ToF32(source, destination, count, KernelPaths.Default);
            return;
        }
        int i = 0;
        if (Vector256.IsHardwareAccelerated)
        {
            for (; i + 16 <= count; i += 16)
            {
                (Vector256<uint> lo, Vector256<uint> hi) = Vector256.Widen(Vector256.Load(source + i));
                (bf16 ? Bf16(lo) : F16(lo)).Store(destination + i);
                (bf16 ? Bf16(hi) : F16(hi)).Store(destination + i + 8);
            }
        }
        for (; i < count; i++)
            destination[i] = bf16 ? BitConverter.UInt32BitsToSingle((uint)source[i] << 16) : Fp16.ToSingle(source[i]);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<float> Bf16(Vector256<uint> h) => Vector256.ShiftLeft(h, 16).AsSingle();

    /// <summary>fp16 bits (in 32-bit lanes) → fp32: rebias normal values; subnormals by subtraction; specials to exponent 255.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static Vector256<float> F16(Vector256<uint> h)
    {
        Vector256<uint> sign = Vector256.ShiftLeft(h & Vector256.Create(0x8000u), 16);
        Vector256<uint> magnitude = Vector256.ShiftLeft(h & Vector256.Create(0x7FFFu), 13);
        Vector256<uint> exponent = h & Vector256.Create(0x7C00u);
        Vector256<uint> normal = magnitude + Vector256.Create(112u << 23);
        Vector256<uint> special = magnitude + Vector256.Create(224u << 23);
        // Zero and subnormals: mantissa · 2^-24 = (1.mantissa · 2^-14) − 2^-14, both terms normal, the difference exact.
        Vector256<uint> small = ((Vector256.ShiftLeft(h & Vector256.Create(0x3FFu), 13) | Vector256.Create(113u << 23)).AsSingle()
            - Vector256.Create(113u << 23).AsSingle()).AsUInt32();
        Vector256<uint> bits = Vector256.ConditionalSelect(Vector256.Equals(exponent, Vector256<uint>.Zero), small,
            Vector256.ConditionalSelect(Vector256.Equals(exponent, Vector256.Create(0x7C00u)), special, normal));
        return (bits | sign).AsSingle();
    }
}
