namespace MlPipelines.ManagedEngine.Tests.Formats.Safetensors;

/// <summary>
/// Reference conversions written from the number formats' definitions, independent of
/// HalfPrecision's bit tricks: F16 through System.Half's scalar casts, BF16 by decoding sign,
/// exponent and mantissa into an exact double and by picking the nearer of the two neighbouring
/// bfloat16 values with explicit tie handling.
/// </summary>
internal static class NaiveHalf
{
    public static float F16ToFloat(ushort bits) => (float)BitConverter.UInt16BitsToHalf(bits);

    public static ushort FloatToF16(float value) => BitConverter.HalfToUInt16Bits((Half)value);

    /// <summary>The exact value of a bfloat16 (1 sign, 8 exponent bits with bias 127, 7 mantissa bits).</summary>
    public static double Bf16ToDouble(ushort bits)
    {
        int sign = bits >> 15, exponent = (bits >> 7) & 0xFF, mantissa = bits & 0x7F;
        double magnitude = exponent switch
        {
            0xFF => mantissa == 0 ? double.PositiveInfinity : double.NaN,
            0 => Math.ScaleB(mantissa, -126 - 7),                  // subnormal: 0.mantissa × 2^-126
            _ => Math.ScaleB(128 + mantissa, exponent - 127 - 7),   // normal: 1.mantissa × 2^(e-127)
        };
        return sign == 1 ? -magnitude : magnitude;
    }

    /// <summary>
    /// fp32 → bfloat16, round to nearest, ties to even; overflow to infinity; NaN to a NaN of the same sign.
    /// Positive floats order like their bit patterns, so dropping the low 16 bits gives the largest
    /// bfloat16 magnitude at or below the value, and adding one to it the next larger one.
    /// </summary>
    public static ushort FloatToBf16(float value)
    {
        ushort sign = (ushort)(float.IsNegative(value) ? 0x8000 : 0);
        if (float.IsNaN(value)) return (ushort)(sign | 0x7FC0);
        if (float.IsInfinity(value)) return (ushort)(sign | 0x7F80);

        double x = Math.Abs((double)value);
        ushort below = (ushort)(BitConverter.SingleToUInt32Bits(Math.Abs(value)) >> 16);
        ushort above = (ushort)(below + 1);
        double low = Bf16ToDouble(below);
        // Above the largest finite bfloat16 lies infinity; IEEE rounds as if the next value were 2^128.
        double high = above == 0x7F80 ? Math.ScaleB(1.0, 128) : Bf16ToDouble(above);
        double toLow = x - low, toHigh = high - x;   // exact: all are floats within a factor of two
        ushort nearest = toLow < toHigh ? below : toLow > toHigh ? above : (below & 1) == 0 ? below : above;
        return (ushort)(sign | nearest);
    }
}
