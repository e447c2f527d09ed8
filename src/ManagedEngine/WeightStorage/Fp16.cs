using System.Runtime.CompilerServices;

namespace MlPipelines.ManagedEngine.WeightStorage;

/// <summary>
/// Scalar fp16 → fp32, exact for every fp16 value. Block scales are read once per 32 or 256 weights, so this runs
/// millions of times per token: normal values (all real scales) take a few integer operations, and only zero,
/// subnormals, infinities and NaNs go through <see cref="Half"/>'s general conversion.
/// </summary>
internal static unsafe class Fp16
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float ToSingle(ushort bits)
    {
        uint exponent = bits & 0x7C00u;
        if (exponent == 0 || exponent == 0x7C00u)
            return (float)BitConverter.UInt16BitsToHalf(bits);
        // Rebias the exponent (15 → 127) and widen the mantissa (10 → 23 bits): exact for normal values.
        uint single = ((bits & 0x8000u) << 16) | (((bits & 0x7FFFu) << 13) + (112u << 23));
        return BitConverter.UInt32BitsToSingle(single);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Read(byte* p) => ToSingle(*(ushort*)p);
}
