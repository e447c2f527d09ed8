using System.Buffers.Binary;
using MlPipelines.ManagedEngine.Formats.Gguf;
using static MlPipelines.ManagedEngine.Quantization.Ggml.GgmlScalars;

namespace MlPipelines.ManagedEngine.Quantization.Ggml;

/// <summary>
/// Q8_K, 292 bytes per 256 values: an fp32 scale <c>d</c>, 256 int8 codes <c>q</c>, and sixteen int16 sums of
/// the codes of each run of 16 (which the k-quant dot products use to apply weight minimums cheaply); each
/// value is <c>d · q</c>. Only an activation format: every k-quant weight is multiplied with it.
/// </summary>
/// <remarks>
/// The quantiser maps the largest-magnitude value to code −127 (<c>1/d = −127 / that value</c>, so <c>d</c>
/// takes the opposite sign), rounds with <see cref="GgmlScalars.NearestInt"/> (halves to even) and stores the
/// fp32 <c>d</c> unrounded. An all-zero super-block gets <c>d = 0</c> and zero codes; ggml leaves its group
/// sums unwritten (whatever the buffer held), this implementation writes zeros.
/// </remarks>
internal static class Q8_K
{
    /// <summary>The block shape.</summary>
    public static readonly GgmlBlockLayout Layout = GgmlBlockLayouts.Get(GgufTensorType.Q8_K);

    private const int CodesOffset = 4;
    private const int SumsOffset = 4 + 256;

    /// <summary>Quantises a row (a multiple of 256 values) into blocks, byte for byte as ggml's reference quantiser.</summary>
    public static void Quantize(ReadOnlySpan<float> x, Span<byte> blocks)
    {
        int count = Layout.BlockCount(x.Length, blocks.Length);
        for (int b = 0; b < count; b++)
        {
            ReadOnlySpan<float> v = x.Slice(b * 256, 256);
            Span<byte> block = blocks.Slice(b * Layout.Bytes, Layout.Bytes);
            float max = SignedAbsMax(v, out float absMax);
            if (absMax == 0f)
            {
                block.Clear();
                continue;
            }
            float iscale = -127f / max;
            for (int j = 0; j < 256; j++)
                block[CodesOffset + j] = (byte)(sbyte)Math.Min(127, NearestInt(iscale * v[j]));
            for (int g = 0; g < 16; g++)
            {
                int sum = 0;
                for (int j = 0; j < 16; j++)
                    sum += (sbyte)block[CodesOffset + 16 * g + j];
                BinaryPrimitives.WriteInt16LittleEndian(block[(SumsOffset + 2 * g)..], (short)sum);
            }
            WriteSingle(block, 0, 1 / iscale);
        }
    }

    /// <summary>The fp32 scale of a block.</summary>
    public static float Scale(ReadOnlySpan<byte> block) => ReadSingle(block, 0);

    /// <summary>Code <paramref name="i"/> (0…255) of a block.</summary>
    public static int Code(ReadOnlySpan<byte> block, int i) => (sbyte)block[CodesOffset + i];

    /// <summary>The stored sum of codes <c>16·g … 16·g + 15</c> of a block.</summary>
    public static int GroupSum(ReadOnlySpan<byte> block, int g) =>
        BinaryPrimitives.ReadInt16LittleEndian(block[(SumsOffset + 2 * g)..]);

    /// <summary>
    /// Adds the integer part of a k-quant dot product into eight lanes the way ggml's generic code does: lane
    /// <c>l</c> receives <c>scale · code_w · code_a</c> for every value index ≡ <c>l</c> (mod 8), where
    /// <c>scale</c> is the weight's sub-block scale (<paramref name="groupSize"/> values per entry of
    /// <paramref name="scales"/>). Integer sums are exact, so only the lane split matters: the lanes are
    /// later scaled and summed in fp32.
    /// </summary>
    public static void AccumulateLanes(ReadOnlySpan<int> weightCodes, ReadOnlySpan<int> scales, int groupSize,
        ReadOnlySpan<byte> activationBlock, Span<int> lanes)
    {
        lanes[..8].Clear();
        for (int i = 0; i < 256; i++)
            lanes[i % 8] += scales[i / groupSize] * (weightCodes[i] * Code(activationBlock, i));
    }
}
