using MlPipelines.ManagedEngine.Formats;
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
        // 21 rows: two groups of eight (the kernels' lanes) and five after them; 7 tokens: a chunk, and one at a time.
        const int rows = 21, tokens = 7;
        byte[] weights = RandomBlocks.Rows(format, rows, cols, seed: (int)format);
        var random = new Random(3);
        float[] x = Enumerable.Range(0, tokens * cols).Select(_ => (float)(random.NextDouble() * 2 - 1)).ToArray();
        x[5] = 40f;   // an outlier sets one block's scale
        var activations = new QuantizedActivations(cols, tokens, WeightFormats.Activations(format)!.Value);
        fixed (byte* w = weights)
        fixed (float* xp = x)
        {
            using var memory = new WeightMemory();
            var plain = new StoredMatrix(w, format, rows, cols);
            // Q8_0, Q4_0 and Q4_K are also re-laid for the x86 kernels (StoredMatrix.Relay); both layouts, the same bits.
            var interleaved = new StoredMatrix(w, format, rows, cols);
            interleaved.Relay(memory, releaseSource: false);
            activations.Quantize(xp, tokens, cols);
            (float[] reference, float[] magnitude) = Reference(plain, activations, tokens);
            float[]? first = null;
            foreach (StoredMatrix matrix in new[] { plain, interleaved })
            foreach (KernelPath path in Enum.GetValues<KernelPath>())
            {
                var y = new float[tokens * rows];
                fixed (float* yp = y)
                {
                    matrix.Multiply(activations, tokens, yp, rows, 0, rows, path);
                    for (int i = 0; i < y.Length; i++)
                        // fp32 sums of `cols` products: a few units of rounding relative to the products' magnitudes.
                        Assert.True(Math.Abs(y[i] - reference[i]) <= 1e-6 * Math.Max(1, magnitude[i]),
                            $"{format} {path} output {i}: {y[i]} vs {reference[i]}");
                    first ??= y;
                    Assert.Equal(first, y);   // every path, the same bits
                    // Rows split unevenly (as between threads, groups of eight starting mid-matrix): the same bits.
                    var split = new float[tokens * rows];
                    fixed (float* sp = split)
                    {
                        matrix.Multiply(activations, tokens, sp, rows, 0, 3, path);
                        matrix.Multiply(activations, tokens, sp, rows, 3, rows, path);
                    }
                    Assert.Equal(y, split);
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

    /// <summary>Σ dequantised weight · (q · scale), in double, and Σ of the products' magnitudes.</summary>
    private static (float[] Sums, float[] Magnitudes) Reference(StoredMatrix matrix, QuantizedActivations x, int tokens)
    {
        var result = new float[tokens * matrix.Rows];
        var magnitudes = new float[tokens * matrix.Rows];
        var row = new float[matrix.Cols];
        for (int r = 0; r < matrix.Rows; r++)
        {
            matrix.ReadRow(r, row);
            for (int t = 0; t < tokens; t++)
            {
                double sum = 0, magnitude = 0;
                sbyte* q = x.Values(t);
                float* s = x.Scales(t);
                for (int c = 0; c < matrix.Cols; c++)
                {
                    double product = (double)row[c] * q[c] * s[c / 32];
                    sum += product;
                    magnitude += Math.Abs(product);
                }
                result[t * matrix.Rows + r] = (float)sum;
                magnitudes[t * matrix.Rows + r] = (float)magnitude;
            }
        }
        return (result, magnitudes);
    }

    public static TheoryData<WeightFormat> Block32Formats() => [WeightFormat.Q8_0, WeightFormat.Q4_0, WeightFormat.Q4_1, WeightFormat.Q5_0, WeightFormat.Q5_1];

    /// <summary>
    /// The 32-value formats' documented arithmetic, bit for bit, with scales and minimums at the edges of fp16 (zero, −0,
    /// subnormals, the largest): per row and token, <c>acc ← fma(I, d·s, acc)</c> then <c>acc ← fma(m, s·Σx, acc)</c>
    /// over the blocks in order, I the block's integer dot product. Infinite and NaN scales give the same bits on every
    /// path.
    /// </summary>
    [Theory]
    [MemberData(nameof(Block32Formats))]
    public void Block32_products_follow_the_documented_order_for_edge_scales(WeightFormat format)
    {
        const int rows = 19, cols = 256, tokens = 3;
        ushort[] finite = [0x0000, 0x8000, 0x0001, 0x83FF, 0x0400, 0x7BFF, 0xFBFF, 0x3C00, 0x1234, 0xB555];
        ushort[] special = [0x7C00, 0xFC00, 0x7E00, 0x3C00];
        bool minimums = format is WeightFormat.Q4_1 or WeightFormat.Q5_1;
        int blockBytes = (int)WeightFormats.RowBytes(format, 32), blocks = cols / 32;
        var random = new Random(5);
        float[] x = Enumerable.Range(0, tokens * cols).Select(_ => (float)(random.NextDouble() * 2 - 1)).ToArray();
        var activations = new QuantizedActivations(cols, tokens, ActivationGrouping.Block32);
        foreach (ushort[] edges in new[] { finite, special })
        {
            byte[] weights = RandomBlocks.Rows(format, rows, cols, seed: 9);
            // The codes alone: scale 1, minimum 0, so dequantising gives q − bias.
            byte[] unit = (byte[])weights.Clone();
            for (int k = 0; k < rows * blocks; k++)
            {
                BitConverter.TryWriteBytes(unit.AsSpan(k * blockBytes), (ushort)0x3C00);
                if (minimums) BitConverter.TryWriteBytes(unit.AsSpan(k * blockBytes + 2), (ushort)0);
                BitConverter.TryWriteBytes(weights.AsSpan(k * blockBytes), edges[k % edges.Length]);
                if (minimums) BitConverter.TryWriteBytes(weights.AsSpan(k * blockBytes + 2), edges[(k + 3) % edges.Length]);
            }
            fixed (byte* w = weights)
            fixed (byte* u = unit)
            fixed (float* xp = x)
            {
                activations.Quantize(xp, tokens, cols);
                using var memory = new WeightMemory();
                var plain = new StoredMatrix(w, format, rows, cols);
                var interleaved = new StoredMatrix(w, format, rows, cols);
                interleaved.Relay(memory, releaseSource: false);
                var codes = new float[cols];
                var expected = new float[tokens * rows];
                for (int r = 0; r < rows; r++)
                {
                    new StoredMatrix(u, format, rows, cols).ReadRow(r, codes);
                    for (int t = 0; t < tokens; t++)
                    {
                        float acc = 0;
                        for (int b = 0; b < blocks; b++)
                        {
                            int dot = 0;
                            for (int c = 0; c < 32; c++) dot += (int)codes[b * 32 + c] * activations.Values(t)[b * 32 + c];
                            int k = r * blocks + b;
                            float d = (float)BitConverter.UInt16BitsToHalf(edges[k % edges.Length]), s = activations.Scales(t)[b];
                            acc = MathF.FusedMultiplyAdd(dot, d * s, acc);
                            if (minimums)
                                acc = MathF.FusedMultiplyAdd((float)BitConverter.UInt16BitsToHalf(edges[(k + 3) % edges.Length]), activations.BlockSums(t)[b], acc);
                        }
                        expected[t * rows + r] = acc;
                    }
                }
                foreach (StoredMatrix matrix in new[] { plain, interleaved })
                foreach (KernelPath path in Enum.GetValues<KernelPath>())
                    foreach (int n in new[] { tokens, 1 })
                    {
                        var y = new float[n * rows];
                        fixed (float* yp = y) matrix.Multiply(activations, n, yp, rows, 0, rows, path);
                        Assert.Equal(expected.AsSpan(0, n * rows).ToArray(), y);
                    }
            }
        }
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
    public void Nibble_split_from_memory_equals_the_two_half_split()
    {
        var random = new Random(17);
        var bytes = new byte[16 * 64];
        random.NextBytes(bytes);
        fixed (byte* p = bytes)
            for (int i = 0; i < bytes.Length; i += 16)
            {
                System.Runtime.Intrinsics.Vector256<byte> expected = Nibbles.Split(System.Runtime.Intrinsics.Vector128.Load(p + i));
                Assert.Equal(expected, Nibbles.Split(p + i));
                for (int j = 0; j < 16; j++)
                {
                    Assert.Equal(bytes[i + j] & 0x0F, expected[j]);
                    Assert.Equal(bytes[i + j] >> 4, expected[16 + j]);
                }
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
