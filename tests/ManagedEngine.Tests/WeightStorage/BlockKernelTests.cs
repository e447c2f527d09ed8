using MlPipelines.ManagedEngine.Kernels;
using MlPipelines.ManagedEngine.WeightStorage;

namespace MlPipelines.ManagedEngine.Tests.WeightStorage;

/// <summary>
/// The block kernels against a plain double-precision dot product of the dequantised weights with the dequantised
/// activations, on every kernel path; decode (one token) and prefill (many) give the same bits.
/// </summary>
public unsafe class BlockKernelTests
{
    public static TheoryData<WeightFormat> Formats() => [.. RandomBlocks.BlockFormats];

    [Theory]
    [MemberData(nameof(Formats))]
    public void Products_equal_the_dequantised_dot_products_on_every_path(WeightFormat format)
    {
        Products_equal_the_dequantised_dot_products(format, 512);
        // 32-value formats: 17 blocks, one past the kernels' groups of eight.
        if (WeightFormats.BlockElements(format) == 32)
            Products_equal_the_dequantised_dot_products(format, 544);
    }

    private static void Products_equal_the_dequantised_dot_products(WeightFormat format, int cols)
    {
        const int rows = 6, tokens = 7;
        byte[] weights = RandomBlocks.Rows(format, rows, cols, seed: (int)format);
        var random = new Random(3);
        float[] x = Enumerable.Range(0, tokens * cols).Select(_ => (float)(random.NextDouble() * 2 - 1)).ToArray();
        x[5] = 40f;   // an outlier sets one block's scale
        var activations = new QuantizedActivations(cols, tokens, WeightFormats.Activations(format)!.Value);
        fixed (byte* w = weights)
        fixed (float* xp = x)
        {
            var matrix = new StoredMatrix(w, format, rows, cols);
            activations.Quantize(xp, tokens, cols);
            float[] reference = Reference(matrix, activations, tokens);
            float[]? first = null;
            foreach (KernelPath path in Enum.GetValues<KernelPath>())
            {
                var y = new float[tokens * rows];
                fixed (float* yp = y)
                {
                    matrix.Multiply(activations, tokens, yp, rows, 0, rows, path);
                    for (int i = 0; i < y.Length; i++)
                        Assert.True(Math.Abs(y[i] - reference[i]) <= 1e-5 * Math.Max(1, Math.Abs(reference[i])),
                            $"{format} {path} output {i}: {y[i]} vs {reference[i]}");
                    first ??= y;
                    Assert.Equal(first, y);   // every path, the same bits
                    // Decode: one token at a time, the same bits as the chunk.
                    var one = new float[rows];
                    fixed (float* op = one)
                    {
                        var single = new QuantizedActivations(cols, 1, activations.Grouping);
                        single.Quantize(xp + 5 * cols, 1, cols);
                        matrix.Multiply(single, 1, op, rows, 0, rows, path);
                    }
                    Assert.Equal(y.AsSpan(5 * rows, rows).ToArray(), one);
                }
            }
        }
    }

    /// <summary>Σ dequantised weight · (q · scale), in double.</summary>
    private static float[] Reference(StoredMatrix matrix, QuantizedActivations x, int tokens)
    {
        var result = new float[tokens * matrix.Rows];
        var row = new float[matrix.Cols];
        for (int r = 0; r < matrix.Rows; r++)
        {
            matrix.ReadRow(r, row);
            for (int t = 0; t < tokens; t++)
            {
                double sum = 0;
                sbyte* q = x.Values(t);
                float* s = x.Scales(t);
                for (int c = 0; c < matrix.Cols; c++) sum += (double)row[c] * q[c] * s[c / 32];
                result[t * matrix.Rows + r] = (float)sum;
            }
        }
        return result;
    }

    [Theory]
    [InlineData(WeightFormat.Q4_K)]
    [InlineData(WeightFormat.Q5_K)]
    [InlineData(WeightFormat.Q6_K)]
    public void Integer_scales_and_minimums_are_the_float_multipliers_factored(WeightFormat format)
    {
        const int blocks = 40;
        byte[] data = RandomBlocks.Rows(format, 1, 256 * blocks, seed: 11);
        int blockBytes = (int)WeightFormats.RowBytes(format, 256);
        float* mul = stackalloc float[16], add = stackalloc float[16];
        short* scales = stackalloc short[16], mins = stackalloc short[16];
        fixed (byte* p = data)
            for (int b = 0; b < blocks; b++)
            {
                byte* block = p + b * blockBytes;
                float d, dmin;
                switch (format)
                {
                    case WeightFormat.Q4_K: Q4_KBlocks.Scales(block, mul, add); d = Q4_KBlocks.IntegerScales(block, scales, mins, out dmin); break;
                    case WeightFormat.Q5_K: Q5_KBlocks.Scales(block, mul, add); d = Q5_KBlocks.IntegerScales(block, scales, mins, out dmin); break;
                    default: Q6_KBlocks.Scales(block, mul, add); d = Q6_KBlocks.IntegerScales(block, scales, mins, out dmin); break;
                }
                for (int k = 0; k < 16; k++)
                {
                    // weight = mul · q + add = d · scale · q − dmin · min, factor by factor.
                    Assert.Equal(mul[k], d * scales[k]);
                    Assert.Equal(add[k], -(dmin * mins[k]));
                }
                if (format != WeightFormat.Q6_K)
                    for (int k = 0; k < 16; k += 2) Assert.Equal(scales[k], scales[k + 1]);
            }
    }

    [Fact]
    public void Half_widening_is_exact_for_every_bit_pattern()
    {
        var halves = Enumerable.Range(0, 65536).Select(i => (ushort)i).ToArray();
        var widened = new float[halves.Length];
        fixed (ushort* h = halves)
        fixed (float* f = widened)
        {
            HalfRows.Widen(h, bf16: false, f, halves.Length);
            for (int i = 0; i < halves.Length; i++)
            {
                float expected = (float)BitConverter.UInt16BitsToHalf(halves[i]);
                Assert.True(BitConverter.SingleToUInt32Bits(expected) == BitConverter.SingleToUInt32Bits(widened[i]) || (float.IsNaN(expected) && float.IsNaN(widened[i])),
                    $"fp16 0x{i:X4}: {widened[i]} vs {expected}");
                Assert.Equal(expected, Fp16.ToSingle(halves[i]));
            }
            HalfRows.Widen(h, bf16: true, f, halves.Length);
            for (int i = 0; i < halves.Length; i++)
                Assert.Equal((uint)i << 16, BitConverter.SingleToUInt32Bits(widened[i]));
        }
    }
}
