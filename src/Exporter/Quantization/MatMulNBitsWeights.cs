namespace MlPipelines.Exporter.Quantization;

/// <summary>
/// A weight matrix <c>[N, K]</c> quantised for ONNX Runtime's <c>com.microsoft.MatMulNBits</c>
/// (<c>Y = A · dequant(B)ᵀ</c>): each row is cut along K into blocks of <see cref="BlockSize"/> values, each block has an
/// fp32 scale and a zero point, and a value is <c>(code − zero point) · scale</c>.
/// </summary>
/// <remarks>
/// Layouts, as the operator reads them: <see cref="Codes"/> is <c>[N, blocks, BlockSize · Bits / 8]</c> bytes with the
/// codes packed low bits first along K (4-bit: value 2j in the low nibble of byte j); <see cref="Scales"/> is
/// <c>[N, blocks]</c>; <see cref="ZeroPoints"/>, when present, is <c>[N, ⌈blocks · Bits / 8⌉]</c> bytes packed the same way
/// (absent: the operator's default, 2^(Bits−1), which symmetric quantisation uses). A K that is not a multiple of the
/// block is padded with codes that decode to zero.
/// </remarks>
internal sealed record MatMulNBitsWeights(int N, int K, int Bits, int BlockSize, byte[] Codes, float[] Scales, byte[]? ZeroPoints)
{
    /// <summary>Blocks per row: <c>⌈K / BlockSize⌉</c>.</summary>
    public int Blocks => (K + BlockSize - 1) / BlockSize;

    /// <summary>Bytes of one block's codes.</summary>
    public int BlobBytes => BlockSize * Bits / 8;

    /// <summary>Bytes of one row's zero points.</summary>
    public int ZeroPointRowBytes => (Blocks * Bits + 7) / 8;

    /// <summary>The code of value <paramref name="k"/> of row <paramref name="n"/>.</summary>
    public int Code(int n, int k)
    {
        long bit = ((long)n * Blocks * BlobBytes + (long)(k / BlockSize) * BlobBytes) * 8 + (long)(k % BlockSize) * Bits;
        return (Codes[bit / 8] >> (int)(bit % 8)) & ((1 << Bits) - 1);
    }

    /// <summary>The zero point of block <paramref name="block"/> of row <paramref name="n"/>.</summary>
    public int ZeroPoint(int n, int block)
    {
        if (ZeroPoints is null) return 1 << (Bits - 1);
        long bit = (long)n * ZeroPointRowBytes * 8 + (long)block * Bits;
        return (ZeroPoints[bit / 8] >> (int)(bit % 8)) & ((1 << Bits) - 1);
    }

    /// <summary>Value <paramref name="k"/> of row <paramref name="n"/> as the operator decodes it.</summary>
    public float Dequantize(int n, int k)
    {
        int block = k / BlockSize;
        return (Code(n, k) - ZeroPoint(n, block)) * Scales[n * Blocks + block];
    }
}
