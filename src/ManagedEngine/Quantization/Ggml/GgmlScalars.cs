using System.Buffers.Binary;

namespace MlPipelines.ManagedEngine.Quantization.Ggml;

/// <summary>
/// The scalar conversions every ggml block format shares: fp16 fields, the fp32 field of Q8_K, and ggml's
/// round-to-nearest trick. All multi-byte fields are little-endian.
/// </summary>
/// <remarks>
/// fp16 → fp32 is exact. fp32 → fp16 rounds to nearest, ties to even, with overflow to infinity and gradual
/// underflow to fp16 subnormals: what ggml's portable converter and the F16C instruction both do, and what
/// .NET's <see cref="Half"/> conversion does.
/// </remarks>
internal static class GgmlScalars
{
    /// <summary>The fp16 at <paramref name="offset"/>, widened to fp32.</summary>
    public static float ReadHalf(ReadOnlySpan<byte> bytes, int offset) =>
        (float)BinaryPrimitives.ReadHalfLittleEndian(bytes[offset..]);

    /// <summary>Stores <paramref name="value"/> at <paramref name="offset"/> as fp16 (round to nearest even).</summary>
    public static void WriteHalf(Span<byte> bytes, int offset, float value) =>
        BinaryPrimitives.WriteHalfLittleEndian(bytes[offset..], (Half)value);

    /// <summary>The fp32 at <paramref name="offset"/>.</summary>
    public static float ReadSingle(ReadOnlySpan<byte> bytes, int offset) =>
        BinaryPrimitives.ReadSingleLittleEndian(bytes[offset..]);

    /// <summary>Stores <paramref name="value"/> at <paramref name="offset"/> as fp32.</summary>
    public static void WriteSingle(Span<byte> bytes, int offset, float value) =>
        BinaryPrimitives.WriteSingleLittleEndian(bytes[offset..], value);

    /// <summary>
    /// The integer nearest to <paramref name="value"/>, halves going to the even neighbour, computed as the
    /// k-quant searches do: adding 1.5·2²³ in fp32 pushes the fraction out of the significand, so the fp32
    /// addition itself rounds (to nearest even), and the low 22 bits of the sum's significand hold the
    /// integer offset by 2²². Valid for |value| ≤ 2²² − 1; beyond that the result is garbage, the same
    /// garbage ggml gets. Note this is not C's <c>roundf</c> (halves away from zero), which the 32-value
    /// formats use.
    /// </summary>
    public static int NearestInt(float value)
    {
        int bits = BitConverter.SingleToInt32Bits(value + 12582912f);
        return (bits & 0x007F_FFFF) - 0x0040_0000;
    }

    /// <summary>C's <c>roundf</c>: the nearest integer, halves away from zero (as an fp32).</summary>
    public static float RoundHalfAwayFromZero(float value) => MathF.Round(value, MidpointRounding.AwayFromZero);

    /// <summary>The signed value of the first element with the largest magnitude (0 for an empty or all-zero span).</summary>
    /// <remarks>
    /// Several quantisers derive the scale from this signed value rather than from the magnitude, so that
    /// the extreme element lands exactly on the most negative code. The first of equal magnitudes wins.
    /// </remarks>
    public static float SignedAbsMax(ReadOnlySpan<float> x, out float absMax)
    {
        float max = 0f;
        absMax = 0f;
        foreach (float v in x)
        {
            float a = MathF.Abs(v);
            if (a > absMax)
            {
                absMax = a;
                max = v;
            }
        }
        return max;
    }
}
