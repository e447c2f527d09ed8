using System.Runtime.CompilerServices;

namespace MlPipelines.ManagedEngine.WeightStorage;

/// <summary>
/// Scalar fp16 → fp32, exact for every fp16 value. Block scales are read once per 32 or 256 weights, so this runs
/// millions of times per token, inside the kernels' loops: it makes no calls (a call there made the JIT keep the
/// kernels' vector accumulators on the stack) and normal values take a few integer operations.
/// </summary>
internal static unsafe class Fp16
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float ToSingle(ushort bits)
    {
        uint sign = (bits & 0x8000u) << 16;
        uint exponent = bits & 0x7C00u;
        uint mantissa = bits & 0x03FFu;
        if (exponent == 0)
        {
            // Zero and subnormals: mantissa · 2^-24, exact in fp32.
            float magnitude = mantissa * (1f / 16777216f);
            return BitConverter.UInt32BitsToSingle(BitConverter.SingleToUInt32Bits(magnitude) | sign);
        }
        if (exponent == 0x7C00u)
            // Infinities and NaNs (quiet, payload kept), as Half's conversion gives them.
            return BitConverter.UInt32BitsToSingle(sign | 0x7F800000u | (mantissa << 13) | (mantissa != 0 ? 0x00400000u : 0u));
        // Rebias the exponent (15 → 127) and widen the mantissa (10 → 23 bits).
        return BitConverter.UInt32BitsToSingle(sign | (((bits & 0x7FFFu) << 13) + (112u << 23)));
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Read(byte* p) => ToSingle(*(ushort*)p);

    // Pinned, so that its address can be taken once.
    private static readonly float[] s_table = BuildTable();

    /// <summary>
    /// Every fp16 value as fp32, indexed by its bits (256 KB, built once from <see cref="ToSingle"/>): one load where
    /// <see cref="ToSingle"/> takes a few operations and, on blocks whose scales straddle the subnormal range, branches
    /// that mispredict. As with ggml's own table, only the lines holding the values a model uses are ever read.
    /// </summary>
    public static readonly float* Table = (float*)Unsafe.AsPointer(ref s_table[0]);

    private static float[] BuildTable()
    {
        float[] table = GC.AllocateArray<float>(65536, pinned: true);
        for (int bits = 0; bits < table.Length; bits++)
            table[bits] = ToSingle((ushort)bits);
        return table;
    }
}
