namespace MlPipelines.Tests.Support;

/// <summary>Measures managed allocations of a repeated step on the current thread.</summary>
public static class Allocations
{
    /// <summary>
    /// The fewest bytes the current thread allocated over <paramref name="steps"/> consecutive calls of
    /// <paramref name="step"/>, in each of up to <paramref name="windows"/> windows (stopping at the first that allocates
    /// nothing). An allocation made on every step shows in every window; one the runtime makes once (a method promoted to
    /// optimised code while other tests keep the JIT busy) shows in one window only, so a per-step allocation is still
    /// caught while the runtime's own housekeeping does not make the measurement flaky.
    /// </summary>
    public static long FewestBytes(Action<int> step, int steps, int windows = 3)
    {
        long fewest = long.MaxValue;
        for (int w = 0, i = 0; w < windows && fewest > 0; w++)
        {
            long before = GC.GetAllocatedBytesForCurrentThread();
            for (int s = 0; s < steps; s++, i++)
                step(i);
            fewest = Math.Min(fewest, GC.GetAllocatedBytesForCurrentThread() - before);
        }
        return fewest;
    }
}
