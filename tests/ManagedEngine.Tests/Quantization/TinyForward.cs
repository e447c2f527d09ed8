using MlPipelines.ManagedEngine.Model;
using MlPipelines.ManagedEngine.Quantization;

namespace MlPipelines.ManagedEngine.Tests.Quantization;

/// <summary>
/// A plain fp32 LLaMA forward pass (run.c order, KV cache, one token at a time) whose matrix-vector products
/// are pluggable, so the same code runs fp32 weights and Q8 weights and the logit difference is the
/// quantisation alone. Test-only; independent of the engine's forward pass.
/// </summary>
internal sealed class TinyForward
{
    public delegate void MatVec(Span<float> y, ReadOnlySpan<float> x);

    public sealed record Layer(float[] RmsAtt, MatVec Wq, MatVec Wk, MatVec Wv, MatVec Wo, float[] RmsFfn, MatVec W1, MatVec W2, MatVec W3);

    private readonly ModelConfig _c;
    private readonly float[] _embedding, _rmsFinal;
    private readonly Layer[] _layers;
    private readonly MatVec _classifier;

    private TinyForward(ModelConfig c, float[] embedding, Layer[] layers, float[] rmsFinal, MatVec classifier)
    {
        _c = c; _embedding = embedding; _layers = layers; _rmsFinal = rmsFinal; _classifier = classifier;
    }

    public static TinyForward Fp32(LlamaWeights w)
    {
        ModelConfig c = w.Config;
        MatVec M(WeightTensor t, int rows, int cols)
        {
            float[] a = t.Span.ToArray();
            return (y, x) =>
            {
                for (int r = 0; r < rows; r++)
                {
                    float s = 0;
                    for (int k = 0; k < cols; k++) s += a[r * cols + k] * x[k];
                    y[r] = s;
                }
            };
        }
        var layers = w.Layers.Select(l => new Layer(l.RmsAttention.Span.ToArray(), M(l.Wq, c.Dim, c.Dim), M(l.Wk, c.KvDim, c.Dim),
            M(l.Wv, c.KvDim, c.Dim), M(l.Wo, c.Dim, c.Dim), l.RmsFfn.Span.ToArray(), M(l.W1, c.HiddenDim, c.Dim),
            M(l.W2, c.Dim, c.HiddenDim), M(l.W3, c.HiddenDim, c.Dim))).ToArray();
        return new TinyForward(c, w.TokenEmbedding.Span.ToArray(), layers, w.RmsFinal.Span.ToArray(), M(w.Classifier, c.VocabSize, c.Dim));
    }

    public static TinyForward Q8(QuantizedLlamaWeights w)
    {
        static MatVec M(Q8Matrix m) => (y, x) => m.MatVec(y, x);
        var layers = w.Layers.Select(l => new Layer(l.RmsAttention.Span.ToArray(), M(l.Wq), M(l.Wk), M(l.Wv), M(l.Wo),
            l.RmsFfn.Span.ToArray(), M(l.W1), M(l.W2), M(l.W3))).ToArray();
        return new TinyForward(w.Config, w.TokenEmbedding.Span.ToArray(), layers, w.RmsFinal.Span.ToArray(), M(w.Classifier));
    }

    /// <summary>Q8 weights dequantised, fp32 activations: isolates the weight error from the activation quantisation.</summary>
    public static TinyForward Dequantised(QuantizedLlamaWeights w)
    {
        static MatVec M(Q8Matrix m)
        {
            var a = new float[m.Rows * m.Cols];
            m.Dequantize(a);
            return (y, x) =>
            {
                for (int r = 0; r < m.Rows; r++)
                {
                    float s = 0;
                    for (int k = 0; k < m.Cols; k++) s += a[r * m.Cols + k] * x[k];
                    y[r] = s;
                }
            };
        }
        var layers = w.Layers.Select(l => new Layer(l.RmsAttention.Span.ToArray(), M(l.Wq), M(l.Wk), M(l.Wv), M(l.Wo),
            l.RmsFfn.Span.ToArray(), M(l.W1), M(l.W2), M(l.W3))).ToArray();
        return new TinyForward(w.Config, w.TokenEmbedding.Span.ToArray(), layers, w.RmsFinal.Span.ToArray(), M(w.Classifier));
    }

    /// <summary>Logits after each token of <paramref name="tokens"/>.</summary>
    public float[][] Logits(int[] tokens)
    {
        int dim = _c.Dim, kvDim = _c.KvDim, hd = _c.HeadDim, n = tokens.Length;
        var keys = _layers.Select(_ => new float[n * kvDim]).ToArray();
        var values = _layers.Select(_ => new float[n * kvDim]).ToArray();
        float[] x = new float[dim], xb = new float[dim], q = new float[dim], att = new float[dim], tmp = new float[dim];
        float[] h1 = new float[_c.HiddenDim], h3 = new float[_c.HiddenDim];
        var result = new float[n][];
        for (int pos = 0; pos < n; pos++)
        {
            _embedding.AsSpan(tokens[pos] * dim, dim).CopyTo(x);
            for (int l = 0; l < _layers.Length; l++)
            {
                Layer L = _layers[l];
                RmsNorm(xb, x, L.RmsAtt);
                Span<float> k = keys[l].AsSpan(pos * kvDim, kvDim), v = values[l].AsSpan(pos * kvDim, kvDim);
                L.Wq(q, xb); L.Wk(k, xb); L.Wv(v, xb);
                Rope(q, pos, hd); Rope(k, pos, hd);
                for (int h = 0; h < _c.HeadCount; h++)
                {
                    int kvh = h / _c.KvGroupSize;
                    var scores = new double[pos + 1];
                    for (int t = 0; t <= pos; t++)
                    {
                        double dot = 0;
                        for (int i = 0; i < hd; i++) dot += q[h * hd + i] * keys[l][t * kvDim + kvh * hd + i];
                        scores[t] = dot / Math.Sqrt(hd);
                    }
                    double max = scores.Max(), sum = scores.Sum(s => Math.Exp(s - max));
                    for (int i = 0; i < hd; i++)
                    {
                        double a = 0;
                        for (int t = 0; t <= pos; t++) a += Math.Exp(scores[t] - max) / sum * values[l][t * kvDim + kvh * hd + i];
                        att[h * hd + i] = (float)a;
                    }
                }
                L.Wo(tmp, att);
                for (int i = 0; i < dim; i++) x[i] += tmp[i];
                RmsNorm(xb, x, L.RmsFfn);
                L.W1(h1, xb); L.W3(h3, xb);
                for (int i = 0; i < h1.Length; i++) h1[i] = h1[i] / (1 + MathF.Exp(-h1[i])) * h3[i];
                L.W2(tmp, h1);
                for (int i = 0; i < dim; i++) x[i] += tmp[i];
            }
            RmsNorm(xb, x, _rmsFinal);
            result[pos] = new float[_c.VocabSize];
            _classifier(result[pos], xb);
        }
        return result;
    }

    private void RmsNorm(float[] o, float[] x, float[] w)
    {
        double ss = 0;
        foreach (float v in x) ss += v * v;
        float scale = (float)(1 / Math.Sqrt(ss / x.Length + _c.NormEpsilon));
        for (int i = 0; i < x.Length; i++) o[i] = w[i] * (scale * x[i]);
    }

    private void Rope(Span<float> v, int pos, int hd)
    {
        for (int h = 0; h < v.Length; h += hd)
            for (int i = 0; i < hd / 2; i++)
            {
                double angle = pos / Math.Pow(_c.RopeTheta, 2.0 * i / hd);
                float cos = (float)Math.Cos(angle), sin = (float)Math.Sin(angle);
                float a = v[h + 2 * i], b = v[h + 2 * i + 1];
                v[h + 2 * i] = a * cos - b * sin;
                v[h + 2 * i + 1] = a * sin + b * cos;
            }
    }
}
