using MlPipelines.ManagedEngine.Quantization;

namespace MlPipelines.ManagedEngine.Tests.Quantization;

/// <summary>
/// The Q8 matrix-vector product written element by element from the definition: weight i of the flattened
/// matrix belongs to group i / G; row r's activations are quantised in runs cut where the weight groups are
/// cut (run j of column c is (phase + c) / G with phase = r·cols mod G). Integer sums per run are exact,
/// then combined in double.
/// </summary>
internal static class Q8Reference
{
    public static double[] MatVec(Q8Matrix m, QuantizedVector xq, out double[] magnitude)
    {
        int rows = m.Rows, cols = m.Cols, g = m.GroupSize;
        ReadOnlySpan<sbyte> wq = m.Values;
        ReadOnlySpan<float> ws = m.Scales;
        var y = new double[rows];
        magnitude = new double[rows];
        for (int r = 0; r < rows; r++)
        {
            long flat = (long)r * cols;
            int phase = (int)(flat % g);
            int k = phase / xq.PhaseStep;
            ReadOnlySpan<sbyte> xv = xq.Values(k);
            ReadOnlySpan<float> xs = xq.Scales(k);
            var runSums = new Dictionary<int, long>();
            for (int c = 0; c < cols; c++)
            {
                int run = (phase + c) / g;
                runSums[run] = runSums.GetValueOrDefault(run) + wq[(int)flat + c] * xv[c];
                magnitude[r] += Math.Abs((double)wq[(int)flat + c] * ws[(int)((flat + c) / g)] * xv[c] * xs[run]);
            }
            foreach ((int run, long sum) in runSums)
                y[r] += sum * (double)ws[(int)(flat / g) + run] * xs[run];
        }
        return y;
    }

    /// <summary>The scale of the activation run that row <paramref name="r"/> pairs with column <paramref name="c"/>.</summary>
    public static float ActivationScale(Q8Matrix m, QuantizedVector xq, int r, int c)
    {
        int phase = (int)((long)r * m.Cols % m.GroupSize);
        return xq.Scales(phase / xq.PhaseStep)[(phase + c) / m.GroupSize];
    }
}
