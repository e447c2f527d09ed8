using MlPipelines.ManagedEngine.Formats.Gguf;
using MlPipelines.ManagedEngine.Quantization.Ggml;

namespace MlPipelines.ManagedEngine.Tests.Quantization;

/// <summary>
/// The managed ggml reference (<see cref="GgmlReference"/>) against golden vectors ggml itself produced (see
/// GgmlData/README.md): quantised bytes, dequantised bits, activation bytes and generic-code dot products must be
/// identical; ggml-cpu's SIMD dot products must agree within a summation-order bound; and every format's
/// round-trip error must respect its bound.
/// </summary>
public class GgmlReferenceTests
{
    /// <summary>Every weight format implemented.</summary>
    public static TheoryData<GgufTensorType> WeightTypes() => new(GgmlReference.WeightTypes);

    /// <summary>The activation formats ggml-cpu multiplies weights with.</summary>
    public static TheoryData<GgufTensorType> ActivationTypes() => new(GgufTensorType.Q8_0, GgufTensorType.Q8_1, GgufTensorType.Q8_K);

    /// <summary>Weight row sizes of the reference layouts are ggml's.</summary>
    [Theory]
    [MemberData(nameof(WeightTypes))]
    public void Layout_MatchesGgmlRowSize(GgufTensorType type)
    {
        GoldenWeights golden = GgmlGoldenData.Weights(type);
        Assert.Equal(golden.RowBytes, GgmlBlockLayouts.Get(type).RowBytes(golden.N));
    }

    /// <summary>The GGUF reader's size table agrees with the reference layouts.</summary>
    [Fact]
    public void ReaderLayouts_AgreeWithReferenceLayouts()
    {
        foreach (GgufTensorType type in GgmlReference.WeightTypes.Concat([GgufTensorType.Q8_1, GgufTensorType.Q8_K]))
        {
            Assert.True(GgufTensorTypes.TryGetLayout((uint)type, out int elements, out int bytes));
            Assert.Equal(GgmlBlockLayouts.Get(type), new GgmlBlockLayout(elements, bytes));
        }
    }

    /// <summary>Activation row sizes of the reference layouts are ggml's.</summary>
    [Fact]
    public void ActivationLayouts_MatchGgmlRowSizes()
    {
        GoldenActivations a = GgmlGoldenData.Activations;
        int n = a.Values[0].Length;
        Assert.Equal(a.Q8_0[0].Length, GgmlBlockLayouts.Get(GgufTensorType.Q8_0).RowBytes(n));
        Assert.Equal(a.Q8_1[0].Length, GgmlBlockLayouts.Get(GgufTensorType.Q8_1).RowBytes(n));
        Assert.Equal(a.Q8_K[0].Length, GgmlBlockLayouts.Get(GgufTensorType.Q8_K).RowBytes(n));
    }

    /// <summary>The weight quantisers give ggml's bytes, row by row.</summary>
    [Theory]
    [MemberData(nameof(WeightTypes))]
    public void Quantize_GivesGgmlBytes(GgufTensorType type)
    {
        GoldenWeights golden = GgmlGoldenData.Weights(type);
        GgmlBlockLayout layout = GgmlBlockLayouts.Get(type);
        for (int r = 0; r < golden.Quantized.Length; r++)
        {
            var bytes = new byte[golden.RowBytes];
            GgmlReference.Quantize(type, GgmlGoldenData.Inputs[r], bytes);
            AssertSameBytes(golden.Quantized[r], bytes, layout, $"{type} row {r} ({GgmlGoldenData.WeightRowKinds[r]})");
        }
    }

    /// <summary>The dequantisers give ggml's fp32 values bit for bit (signed zeros included).</summary>
    [Theory]
    [MemberData(nameof(WeightTypes))]
    public void Dequantize_GivesGgmlBits(GgufTensorType type)
    {
        GoldenWeights golden = GgmlGoldenData.Weights(type);
        for (int r = 0; r < golden.Quantized.Length; r++)
        {
            var values = new float[golden.N];
            GgmlReference.Dequantize(type, golden.Quantized[r], values);
            for (int i = 0; i < values.Length; i++)
                Assert.True(BitConverter.SingleToInt32Bits(golden.Dequantized[r][i]) == BitConverter.SingleToInt32Bits(values[i]),
                    $"{type} row {r} ({GgmlGoldenData.WeightRowKinds[r]}) value {i}: ggml {golden.Dequantized[r][i]:R}, managed {values[i]:R}");
        }
    }

    /// <summary>The activation quantisers give the bytes of ggml's reference ones.</summary>
    [Theory]
    [MemberData(nameof(ActivationTypes))]
    public void QuantizeActivations_GivesGgmlBytes(GgufTensorType type)
    {
        GoldenActivations golden = GgmlGoldenData.Activations;
        GgmlBlockLayout layout = GgmlBlockLayouts.Get(type);
        for (int r = 0; r < golden.Values.Length; r++)
        {
            var bytes = new byte[layout.RowBytes(golden.Values[r].Length)];
            GgmlReference.Quantize(type, golden.Values[r], bytes);
            AssertSameBytes(golden.In(type)[r], bytes, layout, $"{type} activation row {r}");
        }
    }

    /// <summary>Whole-row dot products equal ggml-cpu's generic code bit for bit.</summary>
    [Theory]
    [MemberData(nameof(WeightTypes))]
    public void Dot_GivesGenericCodeBits(GgufTensorType type)
    {
        GoldenWeights golden = GgmlGoldenData.Weights(type);
        byte[][] activations = GgmlGoldenData.Activations.In(GgmlReference.ActivationType(type));
        for (int r = 0; r < golden.Quantized.Length; r++)
            for (int a = 0; a < activations.Length; a++)
            {
                float dot = GgmlReference.Dot(type, golden.Quantized[r], activations[a], golden.N);
                Assert.True(BitConverter.SingleToInt32Bits(golden.ScalarDots[r][a]) == BitConverter.SingleToInt32Bits(dot),
                    $"{type} row {r} ({GgmlGoldenData.WeightRowKinds[r]}) · activation {a}: generic {golden.ScalarDots[r][a]:R}, managed {dot:R}");
            }
    }

    /// <summary>Single-block dot products equal the generic code bit for bit.</summary>
    [Theory]
    [MemberData(nameof(WeightTypes))]
    public void Dot_OfSingleBlocks_GivesGenericCodeBits(GgufTensorType type)
    {
        // One block at a time, so a difference in a block's own fp32 operations cannot hide in a long sum.
        GoldenWeights golden = GgmlGoldenData.Weights(type);
        GgmlBlockLayout layout = GgmlBlockLayouts.Get(type);
        GgmlBlockLayout activationLayout = GgmlBlockLayouts.Get(GgmlReference.ActivationType(type));
        byte[][] activations = GgmlGoldenData.Activations.In(GgmlReference.ActivationType(type));
        for (int r = 0; r < golden.Quantized.Length; r++)
            for (int a = 0; a < activations.Length; a++)
                for (int b = 0; b < golden.N / layout.Elements; b++)
                {
                    float expected = golden.BlockDots[r][a][b];
                    float dot = GgmlReference.Dot(type, golden.Quantized[r].AsSpan(b * layout.Bytes, layout.Bytes),
                        activations[a].AsSpan(b * activationLayout.Bytes, activationLayout.Bytes), layout.Elements);
                    Assert.True(BitConverter.SingleToInt32Bits(expected) == BitConverter.SingleToInt32Bits(dot),
                        $"{type} row {r} ({GgmlGoldenData.WeightRowKinds[r]}) · activation {a}, block {b}: generic {expected:R}, managed {dot:R}");
                }
    }

    /// <summary>Quantising the activations here and then multiplying gives the generic code's result.</summary>
    [Theory]
    [MemberData(nameof(WeightTypes))]
    public void Dot_OnManagedActivations_GivesGenericCodeBits(GgufTensorType type)
    {
        // The whole path a matrix-vector product takes: quantise the fp32 activations, then the dot product.
        GoldenWeights golden = GgmlGoldenData.Weights(type);
        float[][] values = GgmlGoldenData.Activations.Values;
        var activation = new byte[GgmlBlockLayouts.Get(GgmlReference.ActivationType(type)).RowBytes(golden.N)];
        for (int a = 0; a < values.Length; a++)
        {
            GgmlReference.QuantizeActivations(type, values[a], activation);
            for (int r = 0; r < golden.Quantized.Length; r++)
                Assert.Equal(golden.ScalarDots[r][a], GgmlReference.Dot(type, golden.Quantized[r], activation, golden.N));
        }
    }

    /// <summary>
    /// ggml-cpu's SIMD kernels add the same exact per-block (or per-lane) products as the generic code, in another
    /// order and partly with fused multiply-adds. Every partial sum of either order is bounded by
    /// M = Σ|w_i · a_i| + Σ|o_i · a_i| (o_i: the offset part of a weight with a minimum, which the kernels
    /// apply separately), and each result is within about k·2⁻²⁴·M of the exact sum when k roundings line up
    /// (k ≤ blocks + lanes + a few per block). Two such results differ by at most 2·k·2⁻²⁴·M; with
    /// k = n/32 + 16 that is 48·2⁻²³·M for n = 1024, about 5.7e−6·M (on these data ggml's SIMD and generic results
    /// differ by at most 1.8e−6 of Σ|w_i · a_i|).
    /// </summary>
    [Theory]
    [MemberData(nameof(WeightTypes))]
    public void Dot_AgreesWithGgmlCpuSimdWithinSummationBound(GgufTensorType type)
    {
        GoldenWeights golden = GgmlGoldenData.Weights(type);
        GgufTensorType activationType = GgmlReference.ActivationType(type);
        byte[][] activations = GgmlGoldenData.Activations.In(activationType);
        for (int r = 0; r < golden.Quantized.Length; r++)
        {
            float[] offsets = OffsetParts(type, golden.Quantized[r], golden.N);
            for (int a = 0; a < activations.Length; a++)
            {
                float[] av = DequantizeActivations(activationType, activations[a], golden.N);
                double magnitude = 0;
                for (int i = 0; i < golden.N; i++)
                    magnitude += (Math.Abs((double)golden.Dequantized[r][i]) + Math.Abs((double)offsets[i])) * Math.Abs((double)av[i]);
                double tolerance = 2.0 * (golden.N / 32 + 16) * Math.Pow(2, -24) * magnitude;
                float dot = GgmlReference.Dot(type, golden.Quantized[r], activations[a], golden.N);
                if (!double.IsFinite(magnitude))
                {
                    // Row 9 has a block whose minimum overflows fp16 (to −∞) in Q4_1 and Q5_1: both give −∞.
                    Assert.Equal(golden.SimdDots[r][a], dot);
                    continue;
                }
                Assert.True(Math.Abs(dot - (double)golden.SimdDots[r][a]) <= tolerance,
                    $"{type} row {r} · activation {a}: SIMD {golden.SimdDots[r][a]:R}, managed {dot:R}, tolerance {tolerance:G3}");
            }
        }
    }

    /// <summary>
    /// Quantise → dequantise on random rows stays within each format's error bound, per block. The 32-value formats
    /// have exact bounds: half a step <c>d</c> (a full step for the one clipped extreme of Q4_0 / Q5_0), plus the fp16
    /// rounding of <c>d</c> times the largest code and of the stored minimum. The k-quants choose scales by search
    /// (which may clip extremes) and round their sub-block scales to 4–8 bits, so their bound is looser: 1.5 steps,
    /// a step being the super-block's span (from min(x, 0) to max(x), or max|x| for the symmetric Q3_K and Q6_K)
    /// over the code range. On normal data the relative RMS error must also stay below 2^(1 − bits).
    /// </summary>
    [Theory]
    [MemberData(nameof(WeightTypes))]
    public void RoundTrip_ErrorWithinFormatBound(GgufTensorType type)
    {
        GgmlBlockLayout layout = GgmlBlockLayouts.Get(type);
        var rng = new Random(4242);
        const int n = 4096;
        foreach (string distribution in new[] { "normal", "uniform", "laplace", "offset" })
        {
            float[] x = RandomRow(rng, distribution, n);
            var bytes = new byte[layout.RowBytes(n)];
            var y = new float[n];
            GgmlReference.Quantize(type, x, bytes);
            GgmlReference.Dequantize(type, bytes, y);
            for (int b = 0; b < n; b += layout.Elements)
            {
                ReadOnlySpan<float> block = x.AsSpan(b, layout.Elements);
                double bound = ErrorBound(type, block);
                for (int i = 0; i < layout.Elements; i++)
                    Assert.True(Math.Abs(x[b + i] - (double)y[b + i]) <= bound,
                        $"{type} {distribution} value {b + i}: {x[b + i]:R} came back as {y[b + i]:R}, bound {bound:G4}");
            }
            if (distribution == "normal")
            {
                double error = 0, signal = 0;
                for (int i = 0; i < n; i++)
                {
                    error += (x[i] - (double)y[i]) * (x[i] - (double)y[i]);
                    signal += (double)x[i] * x[i];
                }
                double relativeRms = Math.Sqrt(error / signal);
                Assert.True(relativeRms < Math.Pow(2, 1 - Bits(type)), $"{type}: relative RMS error {relativeRms:G4}");
            }
        }
    }

    /// <summary>Bits per code of a weight format.</summary>
    private static int Bits(GgufTensorType type) => type switch
    {
        GgufTensorType.Q2_K => 2,
        GgufTensorType.Q3_K => 3,
        GgufTensorType.Q4_0 or GgufTensorType.Q4_1 or GgufTensorType.Q4_K => 4,
        GgufTensorType.Q5_0 or GgufTensorType.Q5_1 or GgufTensorType.Q5_K => 5,
        GgufTensorType.Q6_K => 6,
        _ => 8,
    };

    /// <summary>The largest error <paramref name="type"/> may make on any value of <paramref name="block"/>.</summary>
    private static double ErrorBound(GgufTensorType type, ReadOnlySpan<float> block)
    {
        double min = double.MaxValue, max = double.MinValue, absMax = 0;
        foreach (float v in block)
        {
            min = Math.Min(min, v);
            max = Math.Max(max, v);
            absMax = Math.Max(absMax, Math.Abs(v));
        }
        double fp32Slack = 1e-6 * absMax;
        // Half an fp16 ulp at v: 2^-11 relative for normal fp16 values, 2^-25 absolute for subnormal ones.
        static double HalfError(double v) => Math.Max(Math.Abs(v) * Math.Pow(2, -11), Math.Pow(2, -25));
        double Symmetric(int codes, double steps) => steps * absMax / codes + codes * HalfError(absMax / codes) + fp32Slack;
        double Affine(int top)
        {
            double d = (max - min) / top;
            return d / 2 + top * HalfError(d) + HalfError(min) + fp32Slack;
        }
        double span = max - Math.Min(min, 0);
        return type switch
        {
            GgufTensorType.Q4_0 => Symmetric(8, 1),
            GgufTensorType.Q5_0 => Symmetric(16, 1),
            GgufTensorType.Q8_0 => Symmetric(127, 0.5),
            GgufTensorType.Q4_1 => Affine(15),
            GgufTensorType.Q5_1 => Affine(31),
            GgufTensorType.Q2_K => 1.5 * span / 3,
            GgufTensorType.Q3_K => 1.5 * absMax / 4,
            GgufTensorType.Q4_K => 1.5 * span / 15,
            GgufTensorType.Q5_K => 1.5 * span / 31,
            GgufTensorType.Q6_K => 1.5 * absMax / 32,
            _ => throw new ArgumentOutOfRangeException(nameof(type)),
        };
    }

    /// <summary>A row of <paramref name="n"/> values: normal, uniform [−1, 1), Laplace, or 3 + uniform [0, 1) ("offset").</summary>
    private static float[] RandomRow(Random rng, string distribution, int n)
    {
        var x = new float[n];
        for (int i = 0; i < n; i++)
        {
            double u = rng.NextDouble(), v = 1 - rng.NextDouble();
            double normal = Math.Sqrt(-2 * Math.Log(v)) * Math.Cos(2 * Math.PI * u);
            x[i] = distribution switch
            {
                "normal" => (float)normal,
                "uniform" => (float)(2 * u - 1),
                "laplace" => (float)(Math.Sign(u - 0.5) * Math.Log(v)),
                _ => (float)(3 + u),
            };
        }
        return x;
    }

    /// <summary>Fails with the first differing byte's block and position if the two rows differ.</summary>
    private static void AssertSameBytes(byte[] expected, byte[] actual, GgmlBlockLayout layout, string what)
    {
        int i = expected.AsSpan().CommonPrefixLength(actual);
        if (i == expected.Length && actual.Length == expected.Length) return;
        Assert.Fail($"{what}: first difference at byte {i} (block {i / layout.Bytes}, byte {i % layout.Bytes} of it): " +
            $"ggml {(i < expected.Length ? expected[i] : -1)}, managed {(i < actual.Length ? actual[i] : -1)}");
    }

    /// <summary>
    /// The offset part of every weight of a format with minimums (zero for the others): the values the row decodes to
    /// with its (super-)block scales zeroed, which leaves only <c>m</c> or <c>−dmin · m_j</c>.
    /// </summary>
    private static float[] OffsetParts(GgufTensorType type, byte[] row, int n)
    {
        int scaleOffset = type switch
        {
            GgufTensorType.Q4_1 or GgufTensorType.Q5_1 or GgufTensorType.Q4_K or GgufTensorType.Q5_K => 0,
            GgufTensorType.Q2_K => 80,
            _ => -1,
        };
        var offsets = new float[n];
        if (scaleOffset < 0) return offsets;
        byte[] copy = (byte[])row.Clone();
        int blockBytes = GgmlBlockLayouts.Get(type).Bytes;
        for (int b = 0; b < copy.Length; b += blockBytes)
            copy[b + scaleOffset] = copy[b + scaleOffset + 1] = 0;
        GgmlReference.Dequantize(type, copy, offsets);
        return offsets;
    }

    /// <summary>The values a Q8_0 / Q8_1 / Q8_K activation row stands for (<c>d · q</c>).</summary>
    private static float[] DequantizeActivations(GgufTensorType type, byte[] row, int n)
    {
        var values = new float[n];
        if (type == GgufTensorType.Q8_K)
        {
            for (int i = 0; i < n; i++)
            {
                int block = i / 256 * 292;
                values[i] = BitConverter.ToSingle(row, block) * (sbyte)row[block + 4 + i % 256];
            }
            return values;
        }
        int blockBytes = type == GgufTensorType.Q8_0 ? 34 : 36, codes = type == GgufTensorType.Q8_0 ? 2 : 4;
        for (int i = 0; i < n; i++)
        {
            int block = i / 32 * blockBytes;
            values[i] = (float)BitConverter.ToHalf(row, block) * (sbyte)row[block + codes + i % 32];
        }
        return values;
    }
}
