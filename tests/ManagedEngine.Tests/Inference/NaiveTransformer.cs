using MlPipelines.ManagedEngine.Model;

namespace MlPipelines.ManagedEngine.Tests.Inference;

/// <summary>
/// The LLaMA forward pass written from the math in double precision, recomputing everything for
/// the whole sequence at every call (no KV cache): an independent reference for the engine.
/// </summary>
internal sealed class NaiveTransformer(LlamaWeights w)
{
    private readonly ModelConfig _c = w.Config;

    /// <summary>Logits at every position of <paramref name="tokens"/>, row-major [n, vocab].</summary>
    public double[][] Logits(int[] tokens)
    {
        int n = tokens.Length, dim = _c.Dim, hd = _c.HeadDim, qDim = _c.HeadCount * hd, kvDim = _c.KvHeadCount * hd;
        var x = new double[n][];
        for (int t = 0; t < n; t++)
            x[t] = Row(w.TokenEmbedding, tokens[t], dim);

        foreach (LayerWeights layer in w.Layers)
        {
            var q = new double[n][]; var k = new double[n][]; var v = new double[n][];
            for (int t = 0; t < n; t++)
            {
                double[] xn = RmsNorm(x[t], layer.RmsAttention);
                q[t] = Rope(MatVec(layer.Wq, xn, qDim), t);
                k[t] = Rope(MatVec(layer.Wk, xn, kvDim), t);
                v[t] = MatVec(layer.Wv, xn, kvDim);
            }
            for (int t = 0; t < n; t++)
            {
                var attn = new double[qDim];
                for (int h = 0; h < _c.HeadCount; h++)
                {
                    int kvh = h / (_c.HeadCount / _c.KvHeadCount);
                    var scores = new double[t + 1];
                    for (int s = 0; s <= t; s++)
                    {
                        double dot = 0;
                        for (int i = 0; i < hd; i++) dot += q[t][h * hd + i] * k[s][kvh * hd + i];
                        scores[s] = dot / Math.Sqrt(hd);
                    }
                    double max = scores.Max();
                    double[] p = scores.Select(s => Math.Exp(s - max)).ToArray();
                    double sum = p.Sum();
                    for (int s = 0; s <= t; s++)
                        for (int i = 0; i < hd; i++) attn[h * hd + i] += p[s] / sum * v[s][kvh * hd + i];
                }
                Add(x[t], MatVec(layer.Wo, attn, dim));
                double[] xn = RmsNorm(x[t], layer.RmsFfn);
                double[] gate = MatVec(layer.W1, xn, _c.HiddenDim), up = MatVec(layer.W3, xn, _c.HiddenDim);
                for (int i = 0; i < gate.Length; i++) gate[i] = gate[i] / (1 + Math.Exp(-gate[i])) * up[i];
                Add(x[t], MatVec(layer.W2, gate, dim));
            }
        }
        return x.Select(xt => MatVec(w.Classifier, RmsNorm(xt, w.RmsFinal), _c.VocabSize)).ToArray();
    }

    private static double[] Row(WeightTensor m, int row, int cols) =>
        m.Span.Slice(row * cols, cols).ToArray().Select(f => (double)f).ToArray();

    private static double[] MatVec(WeightTensor m, double[] x, int rows)
    {
        ReadOnlySpan<float> span = m.Span;
        var y = new double[rows];
        for (int i = 0; i < rows; i++)
        {
            double sum = 0;
            for (int j = 0; j < x.Length; j++) sum += span[i * x.Length + j] * x[j];
            y[i] = sum;
        }
        return y;
    }

    private double[] RmsNorm(double[] x, WeightTensor weight)
    {
        double ss = x.Sum(v => v * v) / x.Length + _c.NormEpsilon;
        ReadOnlySpan<float> wspan = weight.Span;
        var o = new double[x.Length];
        for (int i = 0; i < x.Length; i++) o[i] = wspan[i] * x[i] / Math.Sqrt(ss);
        return o;
    }

    private double[] Rope(double[] v, int pos)
    {
        int hd = _c.HeadDim;
        for (int h = 0; h < v.Length; h += hd)
            for (int i = 0; i < hd / 2; i++)
            {
                double angle = pos * InverseFrequency(i, hd);
                double a = v[h + 2 * i], b = v[h + 2 * i + 1];
                v[h + 2 * i] = a * Math.Cos(angle) - b * Math.Sin(angle);
                v[h + 2 * i + 1] = a * Math.Sin(angle) + b * Math.Cos(angle);
            }
        return v;
    }

    /// <summary>
    /// θ^(-2i/d), scaled as Hugging Face's rotary embedding scales it (written from its definition: linear divides every
    /// frequency; llama3 divides long wavelengths by the factor, keeps short ones, and interpolates the frequency between).
    /// </summary>
    private double InverseFrequency(int i, int hd)
    {
        double inv = 1.0 / Math.Pow(_c.RopeTheta, 2.0 * i / hd);
        RopeScaling s = _c.RopeScaling;
        if (s.Kind == RopeScalingKind.Linear) return inv / s.Factor;
        if (s.Kind == RopeScalingKind.FrequencyFactors) return inv / s.Factors![i];
        if (s.Kind != RopeScalingKind.Llama3) return inv;
        double wavelength = 2 * Math.PI / inv;
        if (wavelength > s.OriginalMaxPositions / (double)s.LowFrequencyFactor) return inv / s.Factor;
        if (wavelength < s.OriginalMaxPositions / (double)s.HighFrequencyFactor) return inv;
        double smooth = (s.OriginalMaxPositions / wavelength - s.LowFrequencyFactor) / (s.HighFrequencyFactor - s.LowFrequencyFactor);
        return (1 - smooth) * inv / s.Factor + smooth * inv;
    }

    private static void Add(double[] x, double[] y)
    {
        for (int i = 0; i < x.Length; i++) x[i] += y[i];
    }
}
