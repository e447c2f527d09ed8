using System.Diagnostics;

namespace MlPipelines.Tests.Support;

/// <summary>Timing for the gated micro-measures (MLPIPE_PERF=1), which print numbers and assert nothing.</summary>
internal static class MicroTimer
{
    /// <summary>
    /// Microseconds per call of <paramref name="run"/>: warmed up past tiered compilation, then the best of
    /// several 100 ms batches (the machine is shared, so the fastest batch is the least disturbed one).
    /// </summary>
    public static double BestMicroseconds(Action run)
    {
        var warm = Stopwatch.StartNew();
        while (warm.ElapsedMilliseconds < 300) run();
        double best = double.MaxValue;
        for (int batch = 0; batch < 7; batch++)
        {
            int iterations = 0;
            var sw = Stopwatch.StartNew();
            while (sw.ElapsedMilliseconds < 100) { run(); iterations++; }
            best = Math.Min(best, sw.Elapsed.TotalMicroseconds / iterations);
        }
        return best;
    }
}
