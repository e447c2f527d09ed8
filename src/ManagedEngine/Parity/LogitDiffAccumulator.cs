using MlPipelines.ManagedEngine.Sampling;

namespace MlPipelines.ManagedEngine.Parity;

/// <summary>
/// Running logit-difference figures. A mutable struct so the decode loop adds rows without allocating;
/// sums run in double and in a fixed order, so results do not depend on threads or on the engines' layout.
/// </summary>
internal struct LogitDiffAccumulator
{
    private double _max;
    private double _sum;
    private long _values;
    private int _positions;
    private int _matches;

    /// <summary>Adds one position: a row of <c>VocabSize</c> logits from each model.</summary>
    public void Add(ReadOnlySpan<float> a, ReadOnlySpan<float> b)
    {
        if (a.Length != b.Length)
            throw new ArgumentException($"Logit rows differ in length: {a.Length} and {b.Length}.");
        for (int i = 0; i < a.Length; i++)
        {
            double d = Math.Abs((double)a[i] - b[i]);
            // NaN would slip through every comparison and look like agreement; count it as infinitely far.
            if (double.IsNaN(d)) d = double.PositiveInfinity;
            if (d > _max) _max = d;
            _sum += d;
        }
        _values += a.Length;
        _positions++;
        if (Sampler.ArgMax(a) == Sampler.ArgMax(b)) _matches++;
    }

    /// <summary>Adds everything another accumulator has seen.</summary>
    public void Add(in LogitDiffAccumulator other)
    {
        _max = Math.Max(_max, other._max);
        _sum += other._sum;
        _values += other._values;
        _positions += other._positions;
        _matches += other._matches;
    }

    public readonly LogitStats ToStats() =>
        _positions == 0 ? LogitStats.Empty : new LogitStats(_positions, _max, _sum / _values, _matches);
}
