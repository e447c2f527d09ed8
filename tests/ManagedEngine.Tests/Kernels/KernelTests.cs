using MlPipelines.ManagedEngine.Kernels;
using static MlPipelines.ManagedEngine.Tests.Kernels.NaiveKernels;

namespace MlPipelines.ManagedEngine.Tests.Kernels;

public class KernelTests
{
    private static void AssertClose(double[] expected, ReadOnlySpan<float> actual, double tolerance)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (int i = 0; i < expected.Length; i++)
        {
            double bound = tolerance * Math.Max(1.0, Math.Abs(expected[i]));
            Assert.True(Math.Abs(expected[i] - actual[i]) <= bound,
                $"element {i}: expected {expected[i]:R}, got {actual[i]:R} (bound {bound:G3})");
        }
    }

    [Theory]
    [InlineData(1, 1)]
    [InlineData(7, 13)]       // odd sizes exercise the SIMD tails
    [InlineData(64, 64)]
    [InlineData(172, 64)]
    [InlineData(33, 768)]
    public void MatMul_matches_naive(int rows, int cols)
    {
        var rng = new Random(rows * 1000 + cols);
        float[] w = RandomVector(rng, rows * cols), x = RandomVector(rng, cols);
        var y = new float[rows];
        VectorOps.MatMul(y, x, w, rows, cols);
        // fp32 accumulation of `cols` products of magnitude ≤ 1: error grows ~ sqrt(cols) ulps.
        AssertClose(MatMul(w, x, rows, cols), y, 1e-5 * Math.Sqrt(cols));
    }

    [Fact]
    public void MatMul_rejects_mismatched_shapes()
    {
        Assert.Throws<ArgumentException>(() => VectorOps.MatMul(new float[3], new float[4], new float[11], 3, 4));
    }

    [Theory]
    [InlineData(1)]
    [InlineData(17)]
    [InlineData(64)]
    [InlineData(4096)]
    public void RmsNorm_matches_naive(int n)
    {
        var rng = new Random(n);
        float[] x = RandomVector(rng, n, 3f), weight = RandomVector(rng, n);
        var o = new float[n];
        VectorOps.RmsNorm(o, x, weight, 1e-5f);
        AssertClose(RmsNorm(x, weight, 1e-5), o, 1e-5);

        // In place (o aliases x) gives the same result.
        VectorOps.RmsNorm(x, x, weight, 1e-5f);
        Assert.Equal(o, x);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(5)]
    [InlineData(512)]
    [InlineData(32000)]
    public void Softmax_matches_naive(int n)
    {
        var rng = new Random(n + 7);
        float[] x = RandomVector(rng, n, 20f);
        double[] expected = Softmax(x.Select(v => (double)v).ToArray());
        VectorOps.Softmax(x);
        AssertClose(expected, x, 1e-5);
        Assert.InRange(x.Sum(), 0.999f, 1.001f);
    }

    [Fact]
    public void Softmax_is_stable_for_large_logits()
    {
        float[] x = [1000f, 1000f, -1000f];
        VectorOps.Softmax(x);
        Assert.Equal(0.5f, x[0]);
        Assert.Equal(0.5f, x[1]);
        Assert.Equal(0f, x[2]);
    }

    [Theory]
    [InlineData(8, 0, 10000f)]
    [InlineData(8, 1, 10000f)]
    [InlineData(48, 255, 10000f)]
    [InlineData(64, 511, 500000f)]
    public void Rope_matches_naive(int headDim, int pos, float theta)
    {
        var rng = new Random(headDim + pos);
        int heads = 3;
        float[] v = RandomVector(rng, heads * headDim);
        double[] expected = Rope(v, headDim, pos, theta);
        var table = new RopeTable(headDim, pos + 1, theta);
        table.Rotate(v, pos);
        // Angles are computed in fp32 (as llama2.c does): pos * freq loses ~pos ulps of the angle.
        AssertClose(expected, v, 2e-4);
    }

    [Fact]
    public void Rope_rejects_positions_outside_the_table()
    {
        var table = new RopeTable(8, 4, 10000f);
        Assert.Throws<ArgumentOutOfRangeException>(() => table.Rotate(new float[8], 4));
        Assert.Throws<ArgumentOutOfRangeException>(() => new RopeTable(7, 4, 10000f));
    }

    [Theory]
    [InlineData(1)]
    [InlineData(172)]
    [InlineData(2048)]
    public void SwiGlu_matches_naive(int n)
    {
        var rng = new Random(n * 3);
        float[] gate = RandomVector(rng, n, 6f), up = RandomVector(rng, n, 2f);
        double[] expected = SwiGlu(gate, up);
        VectorOps.SwiGlu(gate, up, new float[n]);
        AssertClose(expected, gate, 1e-5);
    }

    [Theory]
    [InlineData(8, 1, 32, 0)]
    [InlineData(8, 17, 32, 24)]
    [InlineData(64, 300, 256, 128)]
    [InlineData(48, 200, 96, 48)]       // head blocks of 6 vectors (stories15M)
    [InlineData(128, 70, 256, 128)]     // two blocks of 8
    [InlineData(100, 33, 200, 100)]     // 8 + 4 vectors and a scalar tail
    [InlineData(26, 9, 52, 0)]          // 2 + 1 vectors and a tail
    public void Attention_matches_naive(int headDim, int positions, int kvDim, int kvOffset)
    {
        var rng = new Random(headDim * positions);
        float[] q = RandomVector(rng, headDim, 2f);
        float[] keys = RandomVector(rng, positions * kvDim, 2f), values = RandomVector(rng, positions * kvDim);
        var output = new float[headDim];
        Attention.Head(output, q, keys, values, positions, kvDim, kvOffset, new float[positions]);
        AssertClose(AttentionHead(q, keys, values, positions, kvDim, kvOffset), output, 1e-5);
    }
}
