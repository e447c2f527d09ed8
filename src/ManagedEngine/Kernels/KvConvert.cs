using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace MlPipelines.ManagedEngine.Kernels;

/// <summary>
/// Conversions for a KV cache held in IEEE fp16 (binary16) bits. <see cref="ToF16(ReadOnlySpan{float}, Span{ushort})"/>
/// stores new keys and values rounded to nearest, ties to even, bit for bit as <c>(Half)x</c> does (overflow to
/// infinity, subnormals, NaNs kept quiet with the top of their payload). <see cref="ToF32(ReadOnlySpan{ushort}, Span{float})"/>
/// widens exactly, bit for bit as <c>(float)half</c> does: every fp16 value is an fp32 value, and a signalling NaN comes
/// back quiet, as hardware conversions return it.
/// <para>
/// Each <see cref="KernelPath"/> has its own implementation (scalar, 128-bit, 256-bit; KvConvert.Lanes.cs holds the
/// vector ones), all exact, so they give the same bits and attention on fp16 keys and values gives the same bits on
/// every path.
/// </para>
/// </summary>
internal static unsafe partial class KvConvert
{
    /// <summary>2^-14, the smallest normal fp16, as an fp32: the bias of the subnormal widening (see <see cref="ToF32(ushort)"/>).</summary>
    private const float MinNormal = 6.103515625e-05f;

    /// <summary>Rounds <paramref name="source"/> to fp16 bits in <paramref name="destination"/>, as <c>(Half)x</c>.</summary>
    /// <exception cref="ArgumentException"><paramref name="destination"/> is shorter than <paramref name="source"/>.</exception>
    public static void ToF16(ReadOnlySpan<float> source, Span<ushort> destination) => ToF16(source, destination, KernelPaths.Default);

    /// <summary>The same on a chosen <see cref="KernelPath"/> (all give the same bits; tests run each).</summary>
    internal static void ToF16(ReadOnlySpan<float> source, Span<ushort> destination, KernelPath path)
    {
        if (destination.Length < source.Length)
            throw new ArgumentException($"Destination holds {destination.Length} halves, not {source.Length}.", nameof(destination));
        fixed (float* s = source)
        fixed (ushort* d = destination)
            ToF16(s, d, source.Length, path);
    }

    /// <summary>Rounds <paramref name="count"/> floats to fp16 bits.</summary>
    internal static void ToF16(float* source, ushort* destination, int count, KernelPath path)
    {
        int i = 0;
        if (path >= KernelPath.Portable256)
            for (; i + 16 <= count; i += 16)
                Narrow16(source + i).Store(destination + i);
        else if (path == KernelPath.Portable128)
            for (; i + 8 <= count; i += 8)
                Narrow8(source + i).Store(destination + i);
        for (; i < count; i++)
            destination[i] = ToF16(source[i]);
    }

    /// <summary>Widens fp16 bits in <paramref name="source"/> to <paramref name="destination"/>, as <c>(float)half</c>.</summary>
    /// <exception cref="ArgumentException"><paramref name="destination"/> is shorter than <paramref name="source"/>.</exception>
    public static void ToF32(ReadOnlySpan<ushort> source, Span<float> destination) => ToF32(source, destination, KernelPaths.Default);

    /// <summary>The same on a chosen <see cref="KernelPath"/>.</summary>
    internal static void ToF32(ReadOnlySpan<ushort> source, Span<float> destination, KernelPath path)
    {
        if (destination.Length < source.Length)
            throw new ArgumentException($"Destination holds {destination.Length} floats, not {source.Length}.", nameof(destination));
        fixed (ushort* s = source)
        fixed (float* d = destination)
            ToF32(s, d, source.Length, path);
    }

    /// <summary>Widens <paramref name="count"/> halves.</summary>
    internal static void ToF32(ushort* source, float* destination, int count, KernelPath path) =>
        ToF32Rows(source, 0, destination, 1, count, path);

    /// <summary>
    /// Widens <paramref name="rows"/> rows of <paramref name="count"/> halves, <paramref name="sourceStride"/> halves apart,
    /// into consecutive rows of <paramref name="count"/> floats: how attention widens a block of one head's keys or values.
    /// One call per block, not per row: a head's row is short (64 halves are 4 vectors), so a call and a path dispatch
    /// per row would cost as much as the widening.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static void ToF32Rows(ushort* source, long sourceStride, float* destination, int rows, int count, KernelPath path)
    {
        if (path >= KernelPath.Portable256)
            for (int r = 0; r < rows; r++)
                Row256(source + r * sourceStride, destination + (long)r * count, count);
        else if (path == KernelPath.Portable128)
            for (int r = 0; r < rows; r++)
                Row128(source + r * sourceStride, destination + (long)r * count, count);
        else
            for (int r = 0; r < rows; r++)
                RowScalar(source + r * sourceStride, destination + (long)r * count, 0, count);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Row256(ushort* source, float* destination, int count)
    {
        int i = 0;
        for (; i + 16 <= count; i += 16)
        {
            Widen16(source + i, out var lo, out var hi);
            lo.Store(destination + i);
            hi.Store(destination + i + 8);
        }
        if (i + 8 <= count)
        {
            Widen8(source + i).Store(destination + i);
            i += 8;
        }
        RowScalar(source, destination, i, count);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Row128(ushort* source, float* destination, int count)
    {
        int i = 0;
        for (; i + 8 <= count; i += 8)
        {
            Widen8(source + i, out var lo, out var hi);
            lo.Store(destination + i);
            hi.Store(destination + i + 4);
        }
        RowScalar(source, destination, i, count);
    }

    /// <summary>Elements <paramref name="i"/>..<paramref name="count"/>-1 one at a time (the scalar path, and the vector paths' tails).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void RowScalar(ushort* source, float* destination, int i, int count)
    {
        for (; i < count; i++)
            destination[i] = ToF32(source[i]);
    }

    /// <summary>
    /// One float to fp16 bits, round to nearest even. Three ranges of the magnitude: half-normal values are rebiased and
    /// rounded with integer arithmetic (a carry out of the mantissa rightly steps the exponent, up to infinity);
    /// smaller ones are rounded by the FPU itself, by adding 0.5, whose ulp is 2^-24, the spacing of fp16 subnormals;
    /// 65536 and up (where no rounding comes back below infinity), infinities and NaNs are set directly.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ushort ToF16(float value)
    {
        uint bits = BitConverter.SingleToUInt32Bits(value);
        uint sign = (bits >> 16) & 0x8000u, a = bits & 0x7FFF_FFFFu, h;
        if (a >= 0x4780_0000u)
            h = a > 0x7F80_0000u ? 0x7E00u | ((a >> 13) & 0x3FFu) : 0x7C00u;
        else if (a >= 0x3880_0000u)
            // a − (112 << 23) rebiases; + 0xFFF + the kept lsb rounds half to even before the 13 dropped bits go.
            h = (a - 0x37FF_F001u + ((a >> 13) & 1u)) >> 13;
        else
            h = BitConverter.SingleToUInt32Bits(BitConverter.UInt32BitsToSingle(a) + 0.5f) - 0x3F00_0000u;
        return (ushort)(sign | h);
    }

    /// <summary>
    /// fp16 bits to a float, exactly. The bits are sign-extended and shifted by 13 so that exponent and mantissa sit where
    /// fp32 keeps them (the sign fills bits 28–31); then: normal values rebias the exponent (+112); infinities and NaNs
    /// rebias twice, to 255, NaNs made quiet; zero and subnormals are <c>(2^-14 + m·2^-24) − 2^-14</c>, both terms
    /// normal and the difference exact. The vector versions (KvConvert.Lanes.cs) are the same steps lane by lane.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float ToF32(ushort bits)
    {
        uint t = (uint)((short)bits << 13);
        uint exponent = t & 0x0F80_0000u;
        if (exponent == 0)
        {
            float magnitude = BitConverter.UInt32BitsToSingle((t & 0x007F_E000u) | 0x3880_0000u) - MinNormal;
            return BitConverter.UInt32BitsToSingle(BitConverter.SingleToUInt32Bits(magnitude) | (t & 0x8000_0000u));
        }
        uint normal = (t & 0x8FFF_E000u) + 0x3800_0000u;
        if (exponent != 0x0F80_0000u)
            return BitConverter.UInt32BitsToSingle(normal);
        uint quiet = (t & 0x007F_E000u) != 0 ? 0x0040_0000u : 0u;
        return BitConverter.UInt32BitsToSingle((normal + 0x3800_0000u) | quiet);
    }
}
