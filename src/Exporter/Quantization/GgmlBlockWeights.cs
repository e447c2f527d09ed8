using System.Buffers.Binary;
using MlPipelines.ManagedEngine.Quantization.Ggml;

namespace MlPipelines.Exporter.Quantization;

/// <summary>
/// ggml's <c>Q4_0</c>, <c>Q8_0</c> (and <c>Q6_K</c>, <see cref="FromQ6_K"/>) blocks as <c>MatMulNBits</c> weights, exactly: both are 32-value blocks with one
/// scale and no minimum, so a Q4_0 block is a symmetric 4-bit block (codes 0…15 around the operator's default zero point
/// 8) and a Q8_0 block an 8-bit one (signed codes shifted by the default zero point 128). The fp16 scale widens to fp32
/// without loss, so the operator decodes every weight to the bits ggml's dequantiser gives.
/// </summary>
/// <remarks>
/// The two layouts differ only in where the codes sit: ggml's Q4_0 byte <c>j</c> holds values <c>j</c> and <c>j + 16</c>,
/// MatMulNBits' byte <c>j</c> values <c>2j</c> and <c>2j + 1</c>. Quantising fp32 weights goes through ggml's own reference
/// quantiser (the one <c>mlpipe quantize</c> writes GGUF files with), so an int4/int8 export of fp32 weights and the
/// managed engine on a Q4_0/Q8_0 file of the same weights hold the same numbers.
/// </remarks>
internal static class GgmlBlockWeights
{
    private const int Block = 32;

    /// <summary>Quantises row-major fp32 <paramref name="weights"/> <c>[n, k]</c> as ggml's Q4_0 (bits 4) or Q8_0 (bits 8).</summary>
    /// <exception cref="ArgumentException"><paramref name="k"/> is not a multiple of 32, or bits is not 4 or 8.</exception>
    public static MatMulNBitsWeights Quantize(ReadOnlySpan<float> weights, int n, int k, int bits)
    {
        CheckShape(n, k, bits);
        if (weights.Length != (long)n * k)
            throw new ArgumentException($"{weights.Length} weights given for a [{n}, {k}] matrix.", nameof(weights));
        int rowBytes = RowBytes(k, bits);
        var row = new byte[rowBytes];
        var result = Allocate(n, k, bits);
        for (int r = 0; r < n; r++)
        {
            if (bits == 4) Q4_0.Quantize(weights.Slice(r * k, k), row);
            else Q8_0.Quantize(weights.Slice(r * k, k), row);
            Transcode(row, r, result);
        }
        return result;
    }

    /// <summary>Takes row-major ggml blocks <c>[n, k]</c> (Q4_0 when bits is 4, Q8_0 when 8) as they are, e.g. from a GGUF file.</summary>
    public static MatMulNBitsWeights FromBlocks(ReadOnlySpan<byte> blocks, int n, int k, int bits)
    {
        CheckShape(n, k, bits);
        int rowBytes = RowBytes(k, bits);
        if (blocks.Length != (long)n * rowBytes)
            throw new ArgumentException($"{blocks.Length} bytes given for a [{n}, {k}] matrix of {rowBytes}-byte rows.", nameof(blocks));
        var result = Allocate(n, k, bits);
        for (int r = 0; r < n; r++)
            Transcode(blocks.Slice(r * rowBytes, rowBytes), r, result);
        return result;
    }

    /// <summary>
    /// Takes row-major ggml <c>Q6_K</c> super-blocks <c>[n, k]</c> exactly, as 8-bit blocks of 16: a Q6_K value is
    /// <c>(d · s) · (q − 32)</c> with an fp16 <c>d</c> per 256 values and an int8 <c>s</c> per 16, so each group of 16 is an
    /// 8-bit block with scale <c>d · s</c> (exact in fp32) and code <c>q + 96</c> around the default zero point 128.
    /// </summary>
    public static MatMulNBitsWeights FromQ6_K(ReadOnlySpan<byte> blocks, int n, int k)
    {
        const int Super = 256, SuperBytes = 210, Group = 16;
        ArgumentOutOfRangeException.ThrowIfLessThan(n, 1);
        if (k < Super || k % Super != 0)
            throw new ArgumentException($"Rows of {k} values are not whole 256-value Q6_K super-blocks.", nameof(k));
        int rowBytes = k / Super * SuperBytes;
        if (blocks.Length != (long)n * rowBytes)
            throw new ArgumentException($"{blocks.Length} bytes given for a [{n}, {k}] Q6_K matrix.", nameof(blocks));
        int groups = k / Group;
        var result = new MatMulNBitsWeights(n, k, 8, Group, new byte[(long)n * k], new float[(long)n * groups], ZeroPoints: null);
        for (int r = 0; r < n; r++)
            for (int b = 0; b < k / Super; b++)
            {
                ReadOnlySpan<byte> block = blocks.Slice(r * rowBytes + b * SuperBytes, SuperBytes);
                float d = (float)BinaryPrimitives.ReadHalfLittleEndian(block[208..]);
                long group0 = (long)r * groups + b * (Super / Group);
                for (int g = 0; g < Super / Group; g++)
                    result.Scales[group0 + g] = d * (sbyte)block[192 + g];
                Span<byte> codes = result.Codes.AsSpan((int)((long)r * k + b * Super), Super);
                for (int h = 0; h < 2; h++)
                    for (int l = 0; l < 32; l++)
                    {
                        // ggml's packing: low nibbles in bytes 64h + l and 64h + 32 + l, top bit pairs in byte 128 + 32h + l.
                        int lo0 = block[64 * h + l], lo1 = block[64 * h + 32 + l], tops = block[128 + 32 * h + l];
                        codes[128 * h + l] = (byte)(((lo0 & 0xF) | (tops & 3) << 4) + 96);
                        codes[128 * h + 32 + l] = (byte)(((lo1 & 0xF) | (tops >> 2 & 3) << 4) + 96);
                        codes[128 * h + 64 + l] = (byte)(((lo0 >> 4) | (tops >> 4 & 3) << 4) + 96);
                        codes[128 * h + 96 + l] = (byte)(((lo1 >> 4) | (tops >> 6 & 3) << 4) + 96);
                    }
            }
        return result;
    }

    /// <summary>Bytes of one ggml block (2 bytes of fp16 scale, then the codes).</summary>
    private static int BlockBytes(int bits) => 2 + Block * bits / 8;

    private static int RowBytes(int k, int bits) => k / Block * BlockBytes(bits);

    private static void CheckShape(int n, int k, int bits)
    {
        if (bits is not (4 or 8))
            throw new ArgumentException($"ggml's 32-value blocks map to 4 (Q4_0) or 8 (Q8_0) bits, not {bits}.", nameof(bits));
        ArgumentOutOfRangeException.ThrowIfLessThan(n, 1);
        if (k < Block || k % Block != 0)
            throw new ArgumentException($"Rows of {k} values are not whole 32-value blocks.", nameof(k));
    }

    private static MatMulNBitsWeights Allocate(int n, int k, int bits) =>
        new(n, k, bits, Block, new byte[(long)n * k * bits / 8], new float[(long)n * (k / Block)], ZeroPoints: null);

    private static void Transcode(ReadOnlySpan<byte> row, int r, MatMulNBitsWeights into)
    {
        int blocks = into.Blocks, blob = into.BlobBytes, blockBytes = BlockBytes(into.Bits);
        Span<byte> codes = into.Codes.AsSpan((int)((long)r * blocks * blob), blocks * blob);
        for (int b = 0; b < blocks; b++)
        {
            ReadOnlySpan<byte> block = row.Slice(b * blockBytes, blockBytes);
            into.Scales[(long)r * blocks + b] = (float)BinaryPrimitives.ReadHalfLittleEndian(block);
            Span<byte> to = codes.Slice(b * blob, blob);
            if (into.Bits == 4)
            {
                for (int j = 0; j < Block / 2; j++)
                {
                    // Values 2j and 2j+1: ggml keeps value i < 16 in the low nibble of byte i, value i ≥ 16 in the high nibble of byte i − 16.
                    int even = Nibble(block, 2 * j), odd = Nibble(block, 2 * j + 1);
                    to[j] = (byte)(even | odd << 4);
                }
            }
            else
            {
                for (int j = 0; j < Block; j++)
                    to[j] = (byte)((sbyte)block[2 + j] + 128);
            }
        }
    }

    private static int Nibble(ReadOnlySpan<byte> q4Block, int value) =>
        value < 16 ? q4Block[2 + value] & 0xF : q4Block[2 + value - 16] >> 4;
}
