using MlPipelines.Exporter.Quantization;
using MlPipelines.ManagedEngine.Quantization.Ggml;

namespace MlPipelines.Exporter.Tests;

/// <summary>
/// ggml blocks carried into MatMulNBits weights: every value the operator's layout decodes to is, bit for bit, the value
/// ggml's reference dequantiser gives for the block (the managed engine's reference implementation, itself tested
/// against llama.cpp), and ONNX Runtime running the operator reads the layout that way.
/// </summary>
public sealed class GgmlBlockWeightsTests
{
    private const int N = 24, K = 512;

    public static TheoryData<string> Formats => new() { "Q4_0", "Q8_0", "Q6_K" };

    [Theory]
    [MemberData(nameof(Formats))]
    public void Blocks_decode_to_ggmls_values_bit_for_bit(string format)
    {
        float[] w = RandomWeights(format.GetHashCode(StringComparison.Ordinal) & 0xFFFF);
        var (blocks, reference) = Ggml(format, w);
        MatMulNBitsWeights q = format switch
        {
            "Q4_0" => GgmlBlockWeights.FromBlocks(blocks, N, K, 4),
            "Q8_0" => GgmlBlockWeights.FromBlocks(blocks, N, K, 8),
            _ => GgmlBlockWeights.FromQ6_K(blocks, N, K),
        };
        for (int row = 0; row < N; row++)
            for (int col = 0; col < K; col++)
                Assert.True(BitConverter.SingleToInt32Bits(reference[row * K + col]) == BitConverter.SingleToInt32Bits(q.Dequantize(row, col)),
                    $"[{row}, {col}]: ggml {reference[row * K + col]}, MatMulNBits {q.Dequantize(row, col)}");

        // ONNX Runtime's MatMulNBits (fp32 arithmetic) on them: A · dequant(B)ᵀ with ggml's values.
        const int m = 2;
        var random = new Random(5);
        float[] a = Enumerable.Range(0, m * K).Select(_ => (float)(random.NextDouble() * 2 - 1)).ToArray();
        float[] y = MatMulNBitsQuantizerTests.Run(q, a, m);
        for (int i = 0; i < m; i++)
            for (int row = 0; row < N; row++)
            {
                double expected = 0;
                for (int col = 0; col < K; col++) expected += (double)a[i * K + col] * reference[row * K + col];
                Assert.True(Math.Abs(expected - y[i * N + row]) <= 1e-4 * (1 + Math.Abs(expected)), $"y[{i}, {row}] = {y[i * N + row]}, expected {expected}");
            }
    }

    [Theory]
    [InlineData(4)]
    [InlineData(8)]
    public void Quantising_fp32_gives_the_blocks_ggmls_quantiser_writes(int bits)
    {
        float[] w = RandomWeights(bits);
        var (blocks, _) = Ggml(bits == 4 ? "Q4_0" : "Q8_0", w);
        MatMulNBitsWeights direct = GgmlBlockWeights.Quantize(w, N, K, bits);
        MatMulNBitsWeights carried = GgmlBlockWeights.FromBlocks(blocks, N, K, bits);
        Assert.Equal(carried.Codes, direct.Codes);
        Assert.Equal(carried.Scales, direct.Scales);
    }

    [Fact]
    public void Shapes_that_are_not_whole_blocks_are_refused()
    {
        Assert.Throws<ArgumentException>(() => GgmlBlockWeights.Quantize(new float[2 * 48], 2, 48, 4));
        Assert.Throws<ArgumentException>(() => GgmlBlockWeights.Quantize(new float[64], 2, 32, 5));
        Assert.Throws<ArgumentException>(() => GgmlBlockWeights.FromBlocks(new byte[10], 1, 32, 4));
        Assert.Throws<ArgumentException>(() => GgmlBlockWeights.FromQ6_K(new byte[210], 1, 128));
    }

    private static float[] RandomWeights(int seed)
    {
        var random = new Random(seed);
        // Rows of different magnitudes, with an outlier now and then (what moves the block scales).
        return Enumerable.Range(0, N * K).Select(i => (float)((random.NextDouble() * 2 - 1) * (1 + i / K) * (random.Next(50) == 0 ? 6 : 1))).ToArray();
    }

    private static (byte[] Blocks, float[] Values) Ggml(string format, float[] w)
    {
        GgmlBlockLayout layout = format switch { "Q4_0" => Q4_0.Layout, "Q8_0" => Q8_0.Layout, _ => Q6_K.Layout };
        int rowBytes = K / layout.Elements * layout.Bytes;
        var blocks = new byte[N * rowBytes];
        var values = new float[N * K];
        for (int r = 0; r < N; r++)
        {
            Span<byte> row = blocks.AsSpan(r * rowBytes, rowBytes);
            ReadOnlySpan<float> x = w.AsSpan(r * K, K);
            Span<float> y = values.AsSpan(r * K, K);
            switch (format)
            {
                case "Q4_0": Q4_0.Quantize(x, row); Q4_0.Dequantize(row, y); break;
                case "Q8_0": Q8_0.Quantize(x, row); Q8_0.Dequantize(row, y); break;
                default: Q6_K.Quantize(x, row); Q6_K.Dequantize(row, y); break;
            }
        }
        return (blocks, values);
    }
}
