using System.Numerics.Tensors;
using System.Runtime.InteropServices;

namespace MlPipelines.ManagedEngine.Formats;

/// <summary>
/// Widens 16-bit floating-point weights (IEEE half and bfloat16, as stored by safetensors and
/// GGUF files) to fp32. Both conversions are exact: every 16-bit value has an fp32 equal.
/// </summary>
internal static class HalfPrecision
{
    /// <summary>Widens IEEE 754 binary16 values (little-endian, as stored) to fp32.</summary>
    public static void WidenF16(ReadOnlySpan<ushort> source, Span<float> destination)
    {
        CheckLengths(source.Length, destination.Length);
        TensorPrimitives.ConvertToSingle(MemoryMarshal.Cast<ushort, Half>(source), destination);
    }

    /// <summary>
    /// Widens bfloat16 values to fp32. A bfloat16 is the upper half of an fp32's bits, so widening
    /// is a 16-bit left shift (NaN payloads and signed zeros survive).
    /// </summary>
    public static void WidenBf16(ReadOnlySpan<ushort> source, Span<float> destination)
    {
        CheckLengths(source.Length, destination.Length);
        Span<uint> bits = MemoryMarshal.Cast<float, uint>(destination);
        // The loop is simple enough for the JIT to vectorise the shift; no table or intrinsics needed.
        for (int i = 0; i < source.Length; i++)
            bits[i] = (uint)source[i] << 16;
    }

    /// <summary>Narrows fp32 to IEEE binary16 (round to nearest even), for writing test files.</summary>
    public static void NarrowToF16(ReadOnlySpan<float> source, Span<ushort> destination)
    {
        CheckLengths(source.Length, destination.Length);
        TensorPrimitives.ConvertToHalf(source, MemoryMarshal.Cast<ushort, Half>(destination));
    }

    /// <summary>Narrows fp32 to bfloat16 (round to nearest even; NaN stays NaN), for writing test files.</summary>
    public static void NarrowToBf16(ReadOnlySpan<float> source, Span<ushort> destination)
    {
        CheckLengths(source.Length, destination.Length);
        ReadOnlySpan<uint> bits = MemoryMarshal.Cast<float, uint>(source);
        for (int i = 0; i < bits.Length; i++)
        {
            uint b = bits[i];
            if ((b & 0x7FFF_FFFFu) > 0x7F80_0000u)
                destination[i] = (ushort)((b >> 16) | 0x0040); // quiet NaN, keeping the sign
            else
                destination[i] = (ushort)((b + 0x7FFFu + ((b >> 16) & 1u)) >> 16);
        }
    }

    private static void CheckLengths(int source, int destination)
    {
        if (source != destination)
            throw new ArgumentException($"Source has {source} values but destination has room for {destination}; they must be equal.");
    }
}
