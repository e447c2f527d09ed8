using System.Runtime.Intrinsics;
using MlPipelines.ManagedEngine.Kernels;
using static MlPipelines.ManagedEngine.Tests.Kernels.NaiveKernels;

namespace MlPipelines.ManagedEngine.Tests.Kernels;

/// <summary>
/// Every <see cref="KernelPath"/> runs here, whatever the machine (paths wider than the hardware run in software),
/// against the naive double-precision references. The fp32 paths keep one arithmetic — sixteen lanes of fused
/// multiply-adds (a last group of eight into lanes 0–7), lanes i and i+8 added, the eight sums paired
/// ((0+1)+(2+3)) + ((4+5)+(6+7)), the tail unfused — so besides the bound against the
/// reference, every path must give exactly the bits of the default one.
/// </summary>
public unsafe class KernelPathTests
{
    private static float[] Multiply(float[] w, int wStride, int cols, float[] x, int xStride, int tokens, int rows, KernelPath path)
    {
        var y = new float[tokens * rows];
        fixed (float* wp = w, xp = x, yp = y)
            MatMulKernel.Multiply(wp, wStride, cols, xp, xStride, tokens, yp, rows, 0, rows, path);
        return y;
    }

    [Fact]
    public void Explicit_lane_sum_pairs_lanes_as_Vector256_Sum_does()
    {
        // The native path sums with Vector256.Sum (or horizontal adds equal to it), the others with Sum8; equal bits
        // here are what make the paths interchangeable. Magnitudes over 7 decades make the order visible.
        var rng = new Random(5);
        var lanes = new float[8];
        for (int trial = 0; trial < 20000; trial++)
        {
            for (int i = 0; i < 8; i++)
                lanes[i] = (float)((rng.NextDouble() * 2 - 1) * Math.Pow(10, rng.Next(-3, 4)));
            var v = Vector256.Create(lanes);
            float expected = Vector256.Sum(v);
            Assert.Equal(expected, KernelPaths.Sum8(v));
            Assert.Equal(expected, KernelPaths.Sum8(v.GetLower(), v.GetUpper()));
            Assert.Equal(expected, KernelPaths.Sum8(lanes));
        }
    }

    // (rows, cols, tokens, extra stride): tails in every dimension, the decode branches for rows up to 512 columns
    // and longer, prefill tiles of 3, 2 and 1 tokens, and strided rows as attention reads a KV cache.
    [Theory]
    [InlineData(9, 17, 1, 0)]
    [InlineData(13, 300, 1, 0)]
    [InlineData(19, 520, 1, 0)]
    [InlineData(21, 1027, 1, 5)]
    [InlineData(9, 17, 5, 0)]
    [InlineData(20, 24, 64, 0)]
    [InlineData(11, 64, 7, 3)]
    [InlineData(6, 7, 2, 0)]
    [InlineData(9, 2100, 7, 5)]    // prefill in column blocks (long rows), strided
    [InlineData(8, 1100, 300, 0)]  // more token triples than are carried between column blocks at once
    [InlineData(20, 40, 8, 0)]     // 512-bit tiles of six tokens and of two
    [InlineData(12, 48, 9, 3)]     // six and three, strided
    [InlineData(17, 72, 11, 0)]    // six and five, rows past the blocks of eight
    public void MatMul_every_path_matches_naive_and_the_default_bit_for_bit(int rows, int cols, int tokens, int pad)
    {
        var rng = new Random(rows * 31 + cols + tokens);
        int stride = cols + pad;
        float[] w = RandomVector(rng, rows * stride), x = RandomVector(rng, tokens * stride);
        float[] reference = Multiply(w, stride, cols, x, stride, tokens, rows, KernelPaths.Default);
        foreach (KernelPath path in Enum.GetValues<KernelPath>())
        {
            float[] y = Multiply(w, stride, cols, x, stride, tokens, rows, path);
            for (int t = 0; t < tokens; t++)
                for (int r = 0; r < rows; r++)
                {
                    double expected = 0;
                    for (int c = 0; c < cols; c++) expected += (double)w[r * stride + c] * x[t * stride + c];
                    // fp32 accumulation of `cols` products of magnitude ≤ 1: error grows ~ sqrt(cols) ulps.
                    Assert.True(Math.Abs(expected - y[t * rows + r]) <= 1e-5 * Math.Sqrt(cols), $"{path} token {t} row {r}");
                }
            Assert.True(reference.AsSpan().SequenceEqual(y), $"{path} differs from {KernelPaths.Default} in some bit");
        }
    }

    [Theory]
    [InlineData(48, 200, 96, 48)]
    [InlineData(128, 70, 256, 128)]
    [InlineData(100, 33, 200, 100)]   // 8 + 4 vectors (12 × 8 fused) and a 4-element unfused tail
    [InlineData(26, 9, 52, 0)]
    [InlineData(36, 5, 36, 0)]        // 32 + 4: the 128-bit path must not fuse the last 4
    public void Attention_every_path_matches_naive_and_the_default_bit_for_bit(int headDim, int positions, int kvDim, int kvOffset)
    {
        var rng = new Random(headDim + positions);
        float[] q = RandomVector(rng, headDim, 2f);
        float[] keys = RandomVector(rng, positions * kvDim, 2f), values = RandomVector(rng, positions * kvDim);
        double[] expected = AttentionHead(q, keys, values, positions, kvDim, kvOffset);
        var reference = new float[headDim];
        Attention.Head(reference, q, keys, values, positions, kvDim, kvOffset, new float[positions], KernelPaths.Default);
        foreach (KernelPath path in Enum.GetValues<KernelPath>())
        {
            var output = new float[headDim];
            Attention.Head(output, q, keys, values, positions, kvDim, kvOffset, new float[positions], path);
            for (int i = 0; i < headDim; i++)
                Assert.True(Math.Abs(expected[i] - output[i]) <= 1e-5 * Math.Max(1, Math.Abs(expected[i])), $"{path} element {i}");
            Assert.True(reference.AsSpan().SequenceEqual(output), $"{path} differs from {KernelPaths.Default} in some bit");
        }
    }

    [Fact]
    public void Int8_quads_are_the_same_lanes_on_every_path()
    {
        var rng = new Random(9);
        var w = new sbyte[32];
        var x = new sbyte[32];
        for (int trial = 0; trial < 2000; trial++)
        {
            for (int i = 0; i < 32; i++)
            {
                w[i] = (sbyte)rng.Next(-128, 128);      // weights may hold -128
                x[i] = (sbyte)rng.Next(-127, 128);      // activations never do
            }
            if (trial == 0) { Array.Fill(w, (sbyte)-128); Array.Fill(x, (sbyte)-127); }   // the extreme pairs
            var expected = new int[8];
            for (int j = 0; j < 8; j++)
                for (int i = 0; i < 4; i++) expected[j] += w[4 * j + i] * x[4 * j + i];

            var wv = Vector256.Create(w);
            var xv = Vector256.Create(x);
            Assert.Equal(expected, ToArray(Int8Dot.Quads(wv, xv, native: true)));
            Assert.Equal(expected, ToArray(Int8Dot.Quads(wv, xv, native: false)));
            int[] halves = [.. ToArray(Int8Dot.Quads(wv.GetLower(), xv.GetLower())), .. ToArray(Int8Dot.Quads(wv.GetUpper(), xv.GetUpper()))];
            Assert.Equal(expected, halves);
        }

        static int[] ToArray<T>(T v) where T : struct => v switch
        {
            Vector256<int> a => [.. Enumerable.Range(0, 8).Select(i => a.GetElement(i))],
            Vector128<int> b => [.. Enumerable.Range(0, 4).Select(i => b.GetElement(i))],
            _ => [],
        };
    }

    [Theory]
    [InlineData(null, null)]
    [InlineData("", null)]
    [InlineData("auto", null)]
    [InlineData("scalar", "Scalar")]
    [InlineData("Portable128", "Portable128")]
    [InlineData(" portable256 ", "Portable256")]
    [InlineData("native256", "Native256")]
    [InlineData("native512", "Native512")]
    public void Setting_names_a_path(string? value, string? expected) => Assert.Equal(expected, KernelPaths.Parse(value)?.ToString());

    [Fact]
    public void Unknown_setting_fails_clearly() =>
        Assert.Contains("MLPIPE_KERNELS=avx9", Assert.Throws<ArgumentException>(() => KernelPaths.Parse("avx9")).Message);
}
