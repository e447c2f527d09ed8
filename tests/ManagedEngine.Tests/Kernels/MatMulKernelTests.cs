using MlPipelines.ManagedEngine.Kernels;
using static MlPipelines.ManagedEngine.Tests.Kernels.NaiveKernels;

namespace MlPipelines.ManagedEngine.Tests.Kernels;

public unsafe class MatMulKernelTests
{
    private static float[] Run(float[] w, float[] x, int rows, int cols, int tokens, int rowStart, int rowEnd)
    {
        var y = new float[tokens * rows];
        fixed (float* wp = w, xp = x, yp = y)
            MatMulKernel.Multiply(wp, cols, xp, tokens, yp, rows, rowStart, rowEnd);
        return y;
    }

    [Theory]
    [InlineData(9, 17, 5)]      // tails in rows, columns and tokens
    [InlineData(64, 64, 7)]
    [InlineData(172, 64, 3)]
    [InlineData(13, 300, 2)]
    [InlineData(20, 24, 64)]    // a whole prefill chunk: 21 triples and one token left over
    [InlineData(9, 2100, 7)]    // long rows: column blocks of 512, the last one longer, with a tail of 4
    [InlineData(5, 1100, 300)]  // more token triples than are carried between column blocks at once
    public void Gemm_matches_naive_and_every_tile_shape_agrees_bit_for_bit(int rows, int cols, int tokens)
    {
        var rng = new Random(rows + cols + tokens);
        float[] w = RandomVector(rng, rows * cols), x = RandomVector(rng, tokens * cols);
        float[] all = Run(w, x, rows, cols, tokens, 0, rows);

        for (int t = 0; t < tokens; t++)
        {
            double[] expected = MatMul(w, x[(t * cols)..((t + 1) * cols)], rows, cols);
            for (int r = 0; r < rows; r++)
                Assert.True(Math.Abs(expected[r] - all[t * rows + r]) <= 1e-5 * Math.Sqrt(cols), $"token {t} row {r}");

            // The same token alone (decode) gives the same bits.
            float[] single = Run(w, x[(t * cols)..((t + 1) * cols)], rows, cols, 1, 0, rows);
            Assert.Equal(all.AsSpan(t * rows, rows).ToArray(), single);
        }

        // Any split of the rows (as threads split them) gives the same bits.
        var pieces = new float[tokens * rows];
        foreach (var (start, end) in new[] { (0, 3), (3, 4), (4, rows / 2), (rows / 2, rows) })
        {
            if (start >= end) continue;
            float[] part = Run(w, x, rows, cols, tokens, start, end);
            for (int t = 0; t < tokens; t++)
                for (int r = start; r < end; r++) pieces[t * rows + r] = part[t * rows + r];
        }
        Assert.Equal(all, pieces);
    }
}
