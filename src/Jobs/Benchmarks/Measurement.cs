namespace MlPipelines.Jobs.Benchmarks;

/// <summary>A speed measured over several runs, in tokens per second.</summary>
/// <param name="Median">The median run (the mean of the middle two for an even count).</param>
/// <param name="Min">The slowest run.</param>
/// <param name="Max">The fastest run.</param>
/// <param name="Runs">Every run, in the order they ran.</param>
public sealed record Measurement(double Median, double Min, double Max, IReadOnlyList<double> Runs)
{
    /// <summary>Summarises runs (tokens per second each; at least one).</summary>
    public static Measurement Of(IReadOnlyList<double> runs)
    {
        ArgumentNullException.ThrowIfNull(runs);
        if (runs.Count == 0)
            throw new ArgumentException("At least one run is needed.", nameof(runs));
        double[] sorted = runs.Order().ToArray();
        int mid = sorted.Length / 2;
        double median = sorted.Length % 2 == 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
        return new Measurement(median, sorted[0], sorted[^1], runs.ToArray());
    }
}

/// <summary>Prefill speed for one chunk length.</summary>
/// <param name="Length">Tokens in the chunk.</param>
/// <param name="TokensPerSecond">The speed over the runs.</param>
public sealed record PrefillMeasurement(int Length, Measurement TokensPerSecond);

/// <summary>How long the warm-up of one engine and thread count took.</summary>
/// <param name="Rounds">Warm-up rounds run.</param>
/// <param name="Seconds">Their total time.</param>
/// <param name="Stable">False when the warm-up stopped at its time limit before two rounds agreed.</param>
public sealed record WarmupSummary(int Rounds, double Seconds, bool Stable);

/// <summary>The results for one engine at one thread count.</summary>
/// <param name="Engine">The engine's name (<c>managed</c>, <c>onnx</c>).</param>
/// <param name="Threads">The thread count it ran with.</param>
/// <param name="DecodeTokensPerSecond">Decode speed: one token per forward call, greedy.</param>
/// <param name="Prefill">Prefill speed per chunk length.</param>
/// <param name="Warmup">The warm-up before the measured runs.</param>
public sealed record BenchmarkRow(string Engine, int Threads, Measurement DecodeTokensPerSecond,
    IReadOnlyList<PrefillMeasurement> Prefill, WarmupSummary Warmup)
{
    /// <summary>
    /// How long opening the model took, in seconds (null: not timed): for the managed engine mapping the
    /// checkpoint (plus quantising it when asked), for ONNX Runtime creating the session.
    /// </summary>
    public double? LoadSeconds { get; init; }

    /// <summary>How the engine held the weights and what opening the model cost in memory (null: not recorded).</summary>
    public ModelLoad? Load { get; init; }

    /// <summary>The process's peak resident memory during this row's measured runs (null: not recorded).</summary>
    public PeakMemory? Peak { get; init; }
}
