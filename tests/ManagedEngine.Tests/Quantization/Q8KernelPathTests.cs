using MlPipelines.ManagedEngine.Kernels;
using MlPipelines.ManagedEngine.Quantization;

namespace MlPipelines.ManagedEngine.Tests.Quantization;

/// <summary>
/// The Q8 product on every <see cref="KernelPath"/>. The integer part is exact on all of them. The eight-lane
/// paths (scalar, 128-bit, 256-bit portable and native) also share the fp32 part — lane layout, fused
/// multiply-adds and lane pairing — so they must agree bit for bit. The 512-bit rows (groups of 64) accumulate
/// sixteen lanes with unfused adds: a different fp32 order, held only to the reference's bound.
/// </summary>
public class Q8KernelPathTests
{
    private static readonly KernelPath[] EightLanePaths =
        [KernelPath.Scalar, KernelPath.Portable128, KernelPath.Portable256, KernelPath.Native256];

    [Theory]
    [InlineData(7, 64, 32)]
    [InlineData(9, 96, 32)]       // odd row count: the two-row kernel and a single row
    [InlineData(5, 2048, 64)]
    [InlineData(4, 256, 128)]
    [InlineData(3, 160, 160)]     // five blocks of 32 per group
    [InlineData(12, 100, 8)]      // segment kernel: exact integer runs, the same scalar fp32 on every path
    [InlineData(64, 172, 32)]     // straddling rows
    public void Eight_lane_paths_agree_bit_for_bit_and_all_paths_match_the_reference(int rows, int cols, int group)
    {
        var rng = new Random(rows * 7 + cols + group);
        Q8Matrix m = Q8MatrixTests.RandomMatrix(rng, rows, cols, group);
        var xq = m.CreateInputVector();
        xq.Quantize(Q8MatrixTests.RandomFloats(rng, cols, 2f));
        double[] reference = Q8Reference.MatVec(m, xq, out double[] magnitude);

        var first = new float[rows];
        m.MatVec(first, xq, 0, rows, KernelPath.Native256);
        foreach (KernelPath path in Enum.GetValues<KernelPath>())
        {
            var y = new float[rows];
            m.MatVec(y, xq, 0, rows, path);
            // Exact integer group sums; fp32 rounding of at most cols / 32 scaled lane sums remains.
            for (int r = 0; r < rows; r++)
                Assert.True(Math.Abs(y[r] - reference[r]) <= 1e-6 * magnitude[r] + 1e-30, $"{path} row {r}: {y[r]} vs {reference[r]}");
            if (EightLanePaths.Contains(path) || group % 64 != 0)
                Assert.True(first.AsSpan().SequenceEqual(y), $"{path} differs from Native256 in some bit");
        }
    }

    [Fact]
    public void Default_path_is_the_best_the_machine_runs_unless_the_setting_says_otherwise()
    {
        KernelPath? forced = KernelPaths.Parse(Environment.GetEnvironmentVariable(KernelPaths.EnvironmentVariable));
        Assert.Equal(forced ?? KernelPaths.Best, KernelPaths.Default);
    }
}
