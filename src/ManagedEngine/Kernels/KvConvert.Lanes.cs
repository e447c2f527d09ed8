using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace MlPipelines.ManagedEngine.Kernels;

/// <summary>
/// The 256-bit and 128-bit conversions of <see cref="KvConvert"/>: the scalar steps of <see cref="KvConvert.ToF32(ushort)"/>
/// and <see cref="KvConvert.ToF16(float)"/> in integer lanes, ranges chosen by masks instead of branches (.NET has no F16C
/// intrinsics, and no portable equivalent of them).
/// <para>
/// Attention widens every cached key and value it reads, so widening has a fast path: when no half of a group has the
/// exponent 0 (zero, subnormal) or 31 (infinity, NaN) — nearly always, for keys and values — a lane takes three integer
/// operations; otherwise the group takes the full, branch-free conversion. Both are exact.
/// </para>
/// </summary>
internal static unsafe partial class KvConvert
{
    /// <summary>16 halves → two vectors of 8 floats (halves 0–7, 8–15).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Widen16(ushort* source, out Vector256<float> lo, out Vector256<float> hi)
    {
        Vector256<short> h = Vector256.Load((short*)source);
        (Vector256<int> a, Vector256<int> b) = Vector256.Widen(h);
        if (AllNormal(h))
        {
            lo = Normal(a);
            hi = Normal(b);
        }
        else
        {
            lo = Full(a);
            hi = Full(b);
        }
    }

    /// <summary>8 halves → one vector of 8 floats.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<float> Widen8(ushort* source)
    {
        Vector128<short> h = Vector128.Load((short*)source);
        Vector256<int> a = Vector256.WidenLower(h.ToVector256Unsafe());
        return AllNormal(h) ? Normal(a) : Full(a);
    }

    /// <summary>8 halves → two 128-bit vectors of 4 floats (the 128-bit path's eight lanes).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Widen8(ushort* source, out Vector128<float> lo, out Vector128<float> hi)
    {
        Vector128<short> h = Vector128.Load((short*)source);
        (Vector128<int> a, Vector128<int> b) = Vector128.Widen(h);
        if (AllNormal(h))
        {
            lo = Normal(a);
            hi = Normal(b);
        }
        else
        {
            lo = Full(a);
            hi = Full(b);
        }
    }

    /// <summary>
    /// Whether no half has the exponent 0 or 31. Adding 1 to the exponent field (a carry out of 31 goes to the sign bit)
    /// maps those two to 0 and 1 and the normal exponents to 2..31, so one comparison finds both.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static bool AllNormal(Vector256<short> h) =>
        Vector256.LessThan((h + Vector256.Create((short)0x0400)) & Vector256.Create((short)0x7C00), Vector256.Create((short)0x0800))
        == Vector256<short>.Zero;

    /// <inheritdoc cref="AllNormal(Vector256{short})"/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static bool AllNormal(Vector128<short> h) =>
        Vector128.LessThan((h + Vector128.Create((short)0x0400)) & Vector128.Create((short)0x7C00), Vector128.Create((short)0x0800))
        == Vector128<short>.Zero;

    /// <summary>
    /// Normal halves (sign-extended into 32-bit lanes): shift exponent and mantissa into place, keep the sign (bit 31 of
    /// the extension), rebias the exponent by 112. The sum cannot carry into the sign: the exponent reaches at most 142.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<float> Normal(Vector256<int> h) =>
        (((h << 13) & Vector256.Create(unchecked((int)0x8FFF_E000))) + Vector256.Create(0x3800_0000)).AsSingle();

    /// <inheritdoc cref="Normal(Vector256{int})"/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector128<float> Normal(Vector128<int> h) =>
        (((h << 13) & Vector128.Create(unchecked((int)0x8FFF_E000))) + Vector128.Create(0x3800_0000)).AsSingle();

    /// <summary>Any halves (sign-extended into 32-bit lanes): <see cref="KvConvert.ToF32(ushort)"/> in every lane.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<float> Full(Vector256<int> h)
    {
        Vector256<int> t = h << 13;
        Vector256<int> mantissa = t & Vector256.Create(0x007F_E000);
        Vector256<int> exponent = t & Vector256.Create(0x0F80_0000);
        Vector256<int> normal = (t & Vector256.Create(unchecked((int)0x8FFF_E000))) + Vector256.Create(0x3800_0000);
        Vector256<int> special = (normal + Vector256.Create(0x3800_0000))
            | (Vector256.GreaterThan(mantissa, Vector256<int>.Zero) & Vector256.Create(0x0040_0000));
        Vector256<int> small = ((mantissa | Vector256.Create(0x3880_0000)).AsSingle() - Vector256.Create(MinNormal)).AsInt32()
            | (t & Vector256.Create(int.MinValue));
        return Vector256.ConditionalSelect(Vector256.Equals(exponent, Vector256<int>.Zero), small,
            Vector256.ConditionalSelect(Vector256.Equals(exponent, Vector256.Create(0x0F80_0000)), special, normal)).AsSingle();
    }

    /// <inheritdoc cref="Full(Vector256{int})"/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector128<float> Full(Vector128<int> h)
    {
        Vector128<int> t = h << 13;
        Vector128<int> mantissa = t & Vector128.Create(0x007F_E000);
        Vector128<int> exponent = t & Vector128.Create(0x0F80_0000);
        Vector128<int> normal = (t & Vector128.Create(unchecked((int)0x8FFF_E000))) + Vector128.Create(0x3800_0000);
        Vector128<int> special = (normal + Vector128.Create(0x3800_0000))
            | (Vector128.GreaterThan(mantissa, Vector128<int>.Zero) & Vector128.Create(0x0040_0000));
        Vector128<int> small = ((mantissa | Vector128.Create(0x3880_0000)).AsSingle() - Vector128.Create(MinNormal)).AsInt32()
            | (t & Vector128.Create(int.MinValue));
        return Vector128.ConditionalSelect(Vector128.Equals(exponent, Vector128<int>.Zero), small,
            Vector128.ConditionalSelect(Vector128.Equals(exponent, Vector128.Create(0x0F80_0000)), special, normal)).AsSingle();
    }

    /// <summary>16 floats → 16 halves.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<ushort> Narrow16(float* source) =>
        Vector256.Narrow(Narrow(Vector256.Load(source).AsUInt32()), Narrow(Vector256.Load(source + 8).AsUInt32()));

    /// <summary>8 floats → 8 halves.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector128<ushort> Narrow8(float* source) =>
        Vector128.Narrow(Narrow(Vector128.Load(source).AsUInt32()), Narrow(Vector128.Load(source + 4).AsUInt32()));

    /// <summary>
    /// <see cref="KvConvert.ToF16(float)"/> in every lane, the half in the low 16 bits. The magnitude is below 2^31, so
    /// signed comparisons (the ones every instruction set has) order it correctly.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<uint> Narrow(Vector256<uint> bits)
    {
        Vector256<uint> a = bits & Vector256.Create(0x7FFF_FFFFu);
        Vector256<uint> sign = (bits >>> 16) & Vector256.Create(0x8000u);
        Vector256<uint> normal = (a - Vector256.Create(0x37FF_F001u) + ((a >>> 13) & Vector256<uint>.One)) >>> 13;
        Vector256<uint> small = (a.AsSingle() + Vector256.Create(0.5f)).AsUInt32() - Vector256.Create(0x3F00_0000u);
        Vector256<uint> nan = ((a >>> 13) & Vector256.Create(0x3FFu)) | Vector256.Create(0x7E00u);
        Vector256<int> magnitude = a.AsInt32();
        Vector256<uint> h = Vector256.ConditionalSelect(Vector256.LessThan(magnitude, Vector256.Create(0x3880_0000)).AsUInt32(), small, normal);
        h = Vector256.ConditionalSelect(Vector256.GreaterThanOrEqual(magnitude, Vector256.Create(0x4780_0000)).AsUInt32(), Vector256.Create(0x7C00u), h);
        h = Vector256.ConditionalSelect(Vector256.GreaterThan(magnitude, Vector256.Create(0x7F80_0000)).AsUInt32(), nan, h);
        return h | sign;
    }

    /// <inheritdoc cref="Narrow(Vector256{uint})"/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector128<uint> Narrow(Vector128<uint> bits)
    {
        Vector128<uint> a = bits & Vector128.Create(0x7FFF_FFFFu);
        Vector128<uint> sign = (bits >>> 16) & Vector128.Create(0x8000u);
        Vector128<uint> normal = (a - Vector128.Create(0x37FF_F001u) + ((a >>> 13) & Vector128<uint>.One)) >>> 13;
        Vector128<uint> small = (a.AsSingle() + Vector128.Create(0.5f)).AsUInt32() - Vector128.Create(0x3F00_0000u);
        Vector128<uint> nan = ((a >>> 13) & Vector128.Create(0x3FFu)) | Vector128.Create(0x7E00u);
        Vector128<int> magnitude = a.AsInt32();
        Vector128<uint> h = Vector128.ConditionalSelect(Vector128.LessThan(magnitude, Vector128.Create(0x3880_0000)).AsUInt32(), small, normal);
        h = Vector128.ConditionalSelect(Vector128.GreaterThanOrEqual(magnitude, Vector128.Create(0x4780_0000)).AsUInt32(), Vector128.Create(0x7C00u), h);
        h = Vector128.ConditionalSelect(Vector128.GreaterThan(magnitude, Vector128.Create(0x7F80_0000)).AsUInt32(), nan, h);
        return h | sign;
    }
}
