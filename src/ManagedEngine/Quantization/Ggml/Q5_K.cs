using MlPipelines.ManagedEngine.Formats.Gguf;

namespace MlPipelines.ManagedEngine.Quantization.Ggml;

/// <summary>
/// Q5_K, 176 bytes per super-block of 256 values: Q4_K's header (fp16 <c>d</c>, fp16 <c>dmin</c>, 12 bytes of
/// 6-bit scale/minimum pairs, see <see cref="KScales"/>), then 32 bytes of fifth bits, then 128 bytes of low
/// nibbles laid out as in <see cref="Q4_K"/>. Codes <c>q</c> are 0…31; value <c>i</c> of sub-block <c>j</c> is
/// <c>(d · s_j) · q − (dmin · m_j)</c>. The fifth bit of value <c>64k + l</c> is bit <c>2k</c> of high-bit
/// byte <c>l</c>, and that of value <c>64k + 32 + l</c> is bit <c>2k + 1</c>.
/// </summary>
/// <remarks>
/// Quantised as <see cref="Q4_K"/> with 5-bit codes and a shorter scale search. Dot products pair it with
/// <see cref="Q8_K"/>.
/// </remarks>
internal static class Q5_K
{
    /// <summary>The block shape.</summary>
    public static readonly GgmlBlockLayout Layout = GgmlBlockLayouts.Get(GgufTensorType.Q5_K);

    private const int HighBitsOffset = 16;
    private const int NibblesOffset = 48;

    /// <summary>Quantises a row (a multiple of 256 values) into blocks, byte for byte as ggml's reference quantiser.</summary>
    public static void Quantize(ReadOnlySpan<float> x, Span<byte> blocks)
    {
        int count = Layout.BlockCount(x.Length, blocks.Length);
        Span<byte> codes = stackalloc byte[256];
        for (int b = 0; b < count; b++)
        {
            Span<byte> block = blocks.Slice(b * Layout.Bytes, Layout.Bytes);
            KQuantAffine.QuantizeSuperBlock(x.Slice(b * 256, 256), block, codes, nmax: 31, rmin: -0.5f, steps: 15);
            block.Slice(HighBitsOffset, 32).Clear();
            for (int k = 0; k < 4; k++)
                for (int l = 0; l < 32; l++)
                {
                    int first = codes[64 * k + l], second = codes[64 * k + 32 + l];
                    block[NibblesOffset + 32 * k + l] = (byte)((first & 0xF) | (second & 0xF) << 4);
                    block[HighBitsOffset + l] |= (byte)((first >> 4) << (2 * k) | (second >> 4) << (2 * k + 1));
                }
        }
    }

    /// <summary>The 256 codes (0…31) of a block.</summary>
    private static void ReadCodes(ReadOnlySpan<byte> block, Span<int> codes)
    {
        for (int k = 0; k < 4; k++)
            for (int l = 0; l < 32; l++)
            {
                byte packed = block[NibblesOffset + 32 * k + l], high = block[HighBitsOffset + l];
                codes[64 * k + l] = (packed & 0xF) | ((high >> (2 * k)) & 1) << 4;
                codes[64 * k + 32 + l] = (packed >> 4) | ((high >> (2 * k + 1)) & 1) << 4;
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
    /// The dot product of a Q5_K row with a <see cref="Q8_K"/> row of <paramref name="n"/> values, in the order
    /// of ggml's generic code (see <see cref="KQuantAffine.Dot"/>).
    /// </summary>
    public static float Dot(ReadOnlySpan<byte> weights, ReadOnlySpan<byte> activations, int n) =>
        KQuantAffine.Dot(Layout, ReadCodes, weights, activations, n);
}
