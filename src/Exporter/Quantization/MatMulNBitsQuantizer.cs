namespace MlPipelines.Exporter.Quantization;

/// <summary>
/// Round-to-nearest block quantisation of fp32 weights for <c>MatMulNBits</c>, in C# (no Python tooling): 4- or 8-bit
/// codes, symmetric (the block's value of largest magnitude maps to the lowest code, as ggml's Q4_0 and ONNX Runtime's
/// RTN quantiser choose: <c>scale = vmax / −2^(bits−1)</c>, zero point 2^(bits−1), no zero-point tensor) or asymmetric
/// (the block's range, widened to include 0, over all codes: <c>scale = (max − min) / (2^bits − 1)</c>, zero point
/// <c>round(−min / scale)</c>).
/// </summary>
internal static class MatMulNBitsQuantizer
{
    /// <summary>Quantises row-major <paramref name="weights"/> <c>[n, k]</c>.</summary>
    /// <exception cref="ArgumentException">Bits other than 4 or 8, a block size that is not a power of two ≥ 16, or a size mismatch.</exception>
    public static MatMulNBitsWeights Quantize(ReadOnlySpan<float> weights, int n, int k, int bits, int blockSize, bool symmetric)
    {
        if (bits is not (4 or 8))
            throw new ArgumentException($"MatMulNBits weights take 4 or 8 bits here, not {bits}.", nameof(bits));
        if (blockSize < 16 || (blockSize & (blockSize - 1)) != 0)
            throw new ArgumentException($"The block size must be a power of two ≥ 16, not {blockSize}.", nameof(blockSize));
        ArgumentOutOfRangeException.ThrowIfLessThan(n, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(k, 1);
        if (weights.Length != (long)n * k)
            throw new ArgumentException($"{weights.Length} weights given for a [{n}, {k}] matrix.", nameof(weights));

        int blocks = (k + blockSize - 1) / blockSize, blob = blockSize * bits / 8, levels = 1 << bits;
        int zeroPointRowBytes = (blocks * bits + 7) / 8;
        var codes = new byte[(long)n * blocks * blob];
        var scales = new float[(long)n * blocks];
        byte[]? zeroPoints = symmetric ? null : new byte[(long)n * zeroPointRowBytes];
        for (int row = 0; row < n; row++)
            for (int b = 0; b < blocks; b++)
            {
                ReadOnlySpan<float> values = weights.Slice(row * k + b * blockSize, Math.Min(blockSize, k - b * blockSize));
                var (scale, zero) = symmetric ? Symmetric(values, bits) : Asymmetric(values, levels);
                scales[row * blocks + b] = scale;
                float inverse = scale != 0 ? 1f / scale : 0f;
                long blockBit = ((long)row * blocks + b) * blob * 8;
                for (int i = 0; i < blockSize; i++)
                {
                    // Padding past K decodes to zero: its code is the zero point.
                    int code = i < values.Length ? Math.Clamp((int)MathF.Round(values[i] * inverse) + zero, 0, levels - 1) : zero;
                    Put(codes, blockBit + (long)i * bits, code);
                }
                if (zeroPoints is not null)
                    Put(zeroPoints, (long)row * zeroPointRowBytes * 8 + (long)b * bits, zero);
            }
        return new MatMulNBitsWeights(n, k, bits, blockSize, codes, scales, zeroPoints);
    }

    private static (float Scale, int Zero) Symmetric(ReadOnlySpan<float> values, int bits)
    {
        float extreme = 0;
        foreach (float v in values)
            if (MathF.Abs(v) > MathF.Abs(extreme)) extreme = v;
        int half = 1 << (bits - 1);
        return (extreme / -half, half);
    }

    private static (float Scale, int Zero) Asymmetric(ReadOnlySpan<float> values, int levels)
    {
        float min = 0, max = 0;
        foreach (float v in values)
        {
            min = MathF.Min(min, v);
            max = MathF.Max(max, v);
        }
        float scale = (max - min) / (levels - 1);
        int zero = scale != 0 ? Math.Clamp((int)MathF.Round(-min / scale), 0, levels - 1) : 0;
        return (scale, zero);
    }

    private static void Put(byte[] bytes, long bit, int code) => bytes[bit / 8] |= (byte)(code << (int)(bit % 8));
}
