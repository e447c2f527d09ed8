namespace MlPipelines.ManagedEngine.Tests.Kernels;

/// <summary>
/// Straightforward scalar versions of the kernels, in double precision, written from the math
/// (not from the engine's code): the references the SIMD kernels are held to.
/// </summary>
internal static class NaiveKernels
{
    public static double[] MatMul(float[] w, float[] x, int rows, int cols)
    {
        var y = new double[rows];
        for (int i = 0; i < rows; i++)
        {
            double sum = 0;
            for (int j = 0; j < cols; j++) sum += (double)w[i * cols + j] * x[j];
            y[i] = sum;
        }
        return y;
    }

    public static double[] RmsNorm(float[] x, float[] weight, double eps)
    {
        double ss = 0;
        foreach (float v in x) ss += (double)v * v;
        double inv = 1.0 / Math.Sqrt(ss / x.Length + eps);
        return x.Select((v, i) => weight[i] * v * inv).ToArray();
    }

    public static double[] Softmax(double[] x)
    {
        double max = x.Max();
        double[] e = x.Select(v => Math.Exp(v - max)).ToArray();
        double sum = e.Sum();
        return e.Select(v => v / sum).ToArray();
    }

    /// <summary>RoPE on adjacent pairs: angle = pos / theta^(2i/headDim) for pair i of each head.</summary>
    public static double[] Rope(float[] v, int headDim, int pos, double theta)
    {
        var o = new double[v.Length];
        for (int h = 0; h < v.Length; h += headDim)
            for (int i = 0; i < headDim / 2; i++)
            {
                double angle = pos / Math.Pow(theta, 2.0 * i / headDim);
                double a = v[h + 2 * i], b = v[h + 2 * i + 1];
                o[h + 2 * i] = a * Math.Cos(angle) - b * Math.Sin(angle);
                o[h + 2 * i + 1] = a * Math.Sin(angle) + b * Math.Cos(angle);
            }
        return o;
    }

    public static double[] SwiGlu(float[] gate, float[] up) =>
        gate.Select((g, i) => g / (1 + Math.Exp(-g)) * up[i]).ToArray();

    /// <summary>One head's attention over rows 0..positions-1 of a [positions, kvDim] cache.</summary>
    public static double[] AttentionHead(float[] q, float[] keys, float[] values, int positions, int kvDim, int kvOffset)
    {
        int d = q.Length;
        var scores = new double[positions];
        for (int t = 0; t < positions; t++)
        {
            double s = 0;
            for (int i = 0; i < d; i++) s += (double)q[i] * keys[t * kvDim + kvOffset + i];
            scores[t] = s / Math.Sqrt(d);
        }
        double[] p = Softmax(scores);
        var o = new double[d];
        for (int t = 0; t < positions; t++)
            for (int i = 0; i < d; i++) o[i] += p[t] * values[t * kvDim + kvOffset + i];
        return o;
    }

    public static float[] RandomVector(Random rng, int n, float scale = 1f)
    {
        var v = new float[n];
        for (int i = 0; i < n; i++) v[i] = (float)(rng.NextDouble() * 2 - 1) * scale;
        return v;
    }
}
