using MlPipelines.ManagedEngine.Kernels;
using MlPipelines.Tests.Support;
using Xunit.Abstractions;

namespace MlPipelines.ManagedEngine.Tests.Kernels;

/// <summary>
/// A micro-measure, not a test: single-threaded GFLOP/s of the prefill GEMM (a 64-token chunk) on the
/// projection shapes of stories110M. Runs only with MLPIPE_PERF=1 and prints its numbers.
/// </summary>
public unsafe class GemmThroughput(ITestOutputHelper output)
{
    [Theory]
    [InlineData(16384, 2048)]
    [InlineData(768, 768)]
    [InlineData(2048, 768)]
    [InlineData(768, 2048)]
    [InlineData(32000, 288)]
    [InlineData(288, 288)]
    [InlineData(8, 512)]
    [InlineData(2048, 2048)]
    [InlineData(8192, 2048)]
    [InlineData(2048, 8192)]
    public void Measure(int rows, int cols)
    {
        if (Environment.GetEnvironmentVariable("MLPIPE_PERF") != "1")
            return;
        const int tokens = 64;
        var rng = new Random(1);
        float[] w = new float[rows * cols], x = new float[tokens * cols], y = new float[tokens * rows];
        for (int i = 0; i < w.Length; i++) w[i] = (float)(rng.NextDouble() - 0.5);
        for (int i = 0; i < x.Length; i++) x[i] = (float)(rng.NextDouble() - 0.5);
        fixed (float* wp = w, xp = x, yp = y)
        {
            float* pw = wp, px = xp, py = yp;
            foreach (int count in new[] { tokens, tokens - 1, 3, 1 })
            {
                double best = MicroTimer.BestMicroseconds(() => MatMulKernel.Multiply(pw, cols, px, count, py, rows, 0, rows));
                output.WriteLine($"[{rows}x{cols}] x {count} tokens: {best,8:F1} µs  {2.0 * rows * cols * count / (best * 1e3),6:F1} GFLOP/s");
            }
            // The same product from fp16 weights (widened a few rows at a time inside the kernel).
            ushort[] halves = w.Select(v => BitConverter.HalfToUInt16Bits((Half)v)).ToArray();
            fixed (ushort* ph = halves)
            {
                ushort* h = ph;
                double best = MicroTimer.BestMicroseconds(() => MlPipelines.ManagedEngine.WeightStorage.HalfRows.Multiply(h, false, false, cols, px, null, tokens, py, rows, 0, rows, KernelPaths.Default));
                output.WriteLine($"[{rows}x{cols}] fp16 x {tokens} tokens: {best,8:F1} µs  {2.0 * rows * cols * tokens / (best * 1e3),6:F1} GFLOP/s");
            }
        }
    }
}
