using MlPipelines.ManagedEngine.Formats.Gguf;
using static MlPipelines.ManagedEngine.Quantization.Ggml.GgmlScalars;

namespace MlPipelines.ManagedEngine.Quantization.Ggml;

/// <summary>
/// Q8_1, 36 bytes per 32 values: an fp16 scale <c>d</c>, an fp16 <c>s = d · Σq</c>, and 32 int8 codes <c>q</c>;
/// each value is <c>d · q</c>. Only an activation format: <see cref="Q4_1"/> and <see cref="Q5_1"/> weights
/// are multiplied with it, using <c>s</c> to apply their offset once per block.
/// </summary>
/// <remarks>
/// The codes are those of <see cref="Q8_0"/> (same scale and rounding); <c>s</c> is the exact integer sum of
/// the codes times the fp32 <c>d</c>, rounded to fp16.
/// </remarks>
internal static class Q8_1
{
    /// <summary>The block shape.</summary>
    public static readonly GgmlBlockLayout Layout = GgmlBlockLayouts.Get(GgufTensorType.Q8_1);

    /// <summary>Quantises a row (a multiple of 32 values) into blocks, byte for byte as ggml's reference quantiser.</summary>
    public static void Quantize(ReadOnlySpan<float> x, Span<byte> blocks)
    {
        int count = Layout.BlockCount(x.Length, blocks.Length);
        for (int b = 0; b < count; b++)
        {
            ReadOnlySpan<float> v = x.Slice(b * 32, 32);
            Span<byte> block = blocks.Slice(b * Layout.Bytes, Layout.Bytes);
            SignedAbsMax(v, out float absMax);
            float d = absMax / 127f;
            float id = d != 0f ? 1f / d : 0f;
            int codeSum = 0;
            for (int j = 0; j < 32; j++)
            {
                sbyte q = (sbyte)RoundHalfAwayFromZero(v[j] * id);
                block[4 + j] = (byte)q;
                codeSum += q;
            }
            WriteHalf(block, 0, d);
            WriteHalf(block, 2, codeSum * d);
        }
    }
}
