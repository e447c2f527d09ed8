using MlPipelines.ManagedEngine.Formats.Gguf;

namespace MlPipelines.ManagedEngine.Quantization.Ggml;

/// <summary>
/// Q4_K, 144 bytes per super-block of 256 values: an fp16 <c>d</c>, an fp16 <c>dmin</c>, 12 bytes packing eight
/// 6-bit scales <c>s_j</c> and minimums <c>m_j</c> (one pair per sub-block of 32, see <see cref="KScales"/>),
/// and 128 bytes of 4-bit codes <c>q</c>. Value <c>i</c> of sub-block <c>j</c> is
/// <c>(d · s_j) · q − (dmin · m_j)</c>. The codes go in runs of 64 values: bytes <c>32k … 32k + 31</c> hold
/// values <c>64k + l</c> in their low nibbles and <c>64k + 32 + l</c> in their high nibbles.
/// </summary>
/// <remarks>
/// Quantising fits each sub-block's scale and minimum with <see cref="KQuantSearch.FitScaleAndMin"/>
/// (weights <c>rms(sub-block) + |x|</c>), stores them as 6-bit fractions of the largest of each, and then
/// re-derives the codes from the stored (rounded) scales. Dot products pair it with <see cref="Q8_K"/>.
/// </remarks>
internal static class Q4_K
{
    /// <summary>The block shape.</summary>
    public static readonly GgmlBlockLayout Layout = GgmlBlockLayouts.Get(GgufTensorType.Q4_K);

    /// <summary>Quantises a row (a multiple of 256 values) into blocks, byte for byte as ggml's reference quantiser.</summary>
    public static void Quantize(ReadOnlySpan<float> x, Span<byte> blocks)
    {
        int count = Layout.BlockCount(x.Length, blocks.Length);
        Span<byte> codes = stackalloc byte[256];
        for (int b = 0; b < count; b++)
        {
            Span<byte> block = blocks.Slice(b * Layout.Bytes, Layout.Bytes);
            KQuantAffine.QuantizeSuperBlock(x.Slice(b * 256, 256), block, codes, nmax: 15, rmin: -1f, steps: 20);
            for (int k = 0; k < 4; k++)
                for (int l = 0; l < 32; l++)
                    block[16 + 32 * k + l] = (byte)(codes[64 * k + l] | codes[64 * k + 32 + l] << 4);
        }
    }

    /// <summary>The 256 codes (0…15) of a block.</summary>
    private static void ReadCodes(ReadOnlySpan<byte> block, Span<int> codes)
    {
        for (int k = 0; k < 4; k++)
            for (int l = 0; l < 32; l++)
            {
                byte packed = block[16 + 32 * k + l];
                codes[64 * k + l] = packed & 0xF;
                codes[64 * k + 32 + l] = packed >> 4;
            }
    }

    /// <summary>Decodes blocks into values, with ggml's fp32 arithmetic (so the same bits).</summary>
    public static void Dequantize(ReadOnlySpan<byte> blocks, Span<float> y)
    {
        int count = Layout.BlockCount(y.Length, blocks.Length);
        Span<int> codes = stackalloc int[256];
        for (int b = 0; b < count; b++)
        {
            ReadOnlySpan<byte> block = blocks.Slice(b * Layout.Bytes, Layout.Bytes);
            ReadCodes(block, codes);
            KQuantAffine.Dequantize(block, codes, y.Slice(b * 256, 256));
        }
    }

    /// <summary>
    /// The dot product of a Q4_K row with a <see cref="Q8_K"/> row of <paramref name="n"/> values, in the order
    /// of ggml's generic code (see <see cref="KQuantAffine.Dot"/>).
    /// </summary>
    public static float Dot(ReadOnlySpan<byte> weights, ReadOnlySpan<byte> activations, int n) =>
        KQuantAffine.Dot(Layout, ReadCodes, weights, activations, n);
}
