using MlPipelines.ManagedEngine.Kernels;
using MlPipelines.ManagedEngine.Quantization;
using MlPipelines.Tests.Support;
using Xunit.Abstractions;

namespace MlPipelines.ManagedEngine.Tests.Quantization;

/// <summary>
/// A micro-measure, not a test: single-threaded time per product of a [768, 2048] matrix (stories110M's w2)
/// in Q8 (each kernel) and in fp32 (VectorOps.MatMul). Runs only with MLPIPE_PERF=1 and prints its numbers.
/// </summary>
public class Q8MatVecThroughput(ITestOutputHelper output)
{
    [Fact]
    public void Measure()
    {
        if (Environment.GetEnvironmentVariable("MLPIPE_PERF") != "1")
            return;
        const int rows = 768, cols = 2048;
        var rng = new Random(1);
        float[] w = Q8MatrixTests.RandomFloats(rng, rows * cols, 0.1f), x = Q8MatrixTests.RandomFloats(rng, cols, 1f), y = new float[rows];
        Q8Matrix m = Q8Matrix.Quantize(w, rows, cols);
        var xq = m.CreateInputVector();
        long q8Bytes = (long)rows * cols + 4L * rows * cols / m.GroupSize, fpBytes = 4L * rows * cols;

        Report("fp32 VectorOps.MatMul", fpBytes, () => VectorOps.MatMul(y, x, w, rows, cols));
        Report("fp32 Vector256 FMA loop (same order every row)", fpBytes, () => Fp32Fma(y, x, w, rows, cols));
        Report("Q8 quantise x only", cols * 4, () => xq.Quantize(x));
        foreach (KernelPath kernel in Enum.GetValues<KernelPath>())
        {
            xq.Quantize(x);
            Report($"Q8 MatVec {kernel} (x pre-quantised, G={m.GroupSize})", q8Bytes, () => m.MatVec(y, xq, 0, rows, kernel));
        }
        Report("Q8 MatVec best incl. quantising x", q8Bytes, () => m.MatVec(y, x, 0, rows));

        // The straddling layout's segment kernel on the same shape (groups of 48 over the flattened matrix).
        Q8Matrix straddling = Q8MatrixTests.RandomMatrix(rng, rows, cols, 48);
        var sq = straddling.CreateInputVector();
        sq.Quantize(x);
        Report($"Q8 MatVec straddling G=48 ({sq.PhaseCount} phases)", rows * (long)cols + 4L * rows * cols / 48,
            () => straddling.MatVec(y, sq, 0, rows));
    }

    // A plain fp32 baseline independent of TensorPrimitives, to put the VectorOps number in context.
    private static void Fp32Fma(float[] y, float[] x, float[] w, int rows, int cols)
    {
        for (int r = 0; r < rows; r++)
        {
            var acc = System.Runtime.Intrinsics.Vector256<float>.Zero;
            var row = w.AsSpan(r * cols, cols);
            for (int c = 0; c < cols; c += 8)
                acc = System.Runtime.Intrinsics.Vector256.FusedMultiplyAdd(
                    System.Runtime.Intrinsics.Vector256.Create<float>(row.Slice(c, 8)), System.Runtime.Intrinsics.Vector256.Create<float>(x.AsSpan(c, 8)), acc);
            y[r] = System.Runtime.Intrinsics.Vector256.Sum(acc);
        }
    }

    private void Report(string name, long bytes, Action run)
    {
        double best = MicroTimer.BestMicroseconds(run);
        output.WriteLine($"{name,-52} {best,9:F1} µs/call  {bytes / (best * 1e3),6:F2} GB/s  {best * 1e3 / 768,7:F1} ns/row");
    }
}
