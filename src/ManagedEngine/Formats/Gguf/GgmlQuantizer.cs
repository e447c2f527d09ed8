using System.Buffers.Binary;

namespace MlPipelines.ManagedEngine.Formats.Gguf;

/// <summary>ggml's reference quantisers (<c>quantize_row_*_ref</c>), for writing GGUF files.</summary>
internal static class GgmlQuantizer
{
    /// <summary>Bytes of one Q8_0 block: an fp16 scale and 32 int8 values.</summary>
    public const int Q8_0BlockBytes = 34;

    /// <summary>
    /// Q8_0, per block of 32: d = max|x| / 127 (stored as fp16), q = round(x / d) half away from zero, dividing by the fp32
    /// d as ggml's reference does (not by the stored fp16 one).
    /// </summary>
    public static void QuantizeQ8_0(ReadOnlySpan<float> values, Span<byte> destination)
    {
        if (values.Length % 32 != 0) throw new ArgumentException("Q8_0 needs a multiple of 32 values.", nameof(values));
        for (int b = 0; b < values.Length / 32; b++)
        {
            ReadOnlySpan<float> x = values.Slice(b * 32, 32);
            Span<byte> block = destination.Slice(b * Q8_0BlockBytes, Q8_0BlockBytes);
            float amax = 0;
            foreach (float v in x) amax = Math.Max(amax, Math.Abs(v));
            float d = amax / 127;
            float id = d != 0 ? 1 / d : 0;
            BinaryPrimitives.WriteUInt16LittleEndian(block, BitConverter.HalfToUInt16Bits((Half)d));
            for (int j = 0; j < 32; j++)
                block[2 + j] = (byte)(sbyte)MathF.Round(x[j] * id, MidpointRounding.AwayFromZero);
        }
    }
}
