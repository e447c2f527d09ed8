using MlPipelines.ManagedEngine.Formats;
using MlPipelines.ManagedEngine.Formats.Llama2c;
using MlPipelines.ManagedEngine.Model;
using MlPipelines.Tests.Support;

namespace MlPipelines.ManagedEngine.Tests.Formats;

/// <summary>
/// Checks that synthesized weights give usable logits through many layers, using a deliberately
/// naive forward pass for one token at position 0 (where RoPE is the identity and attention
/// returns each head's value vector), so no engine code is needed.
/// </summary>
public class RandomModelSanityTests
{
    [Fact]
    public void WriteRandom_DeepModelGivesFiniteNonDegenerateLogits()
    {
        var config = new ModelConfig
        {
            Dim = 64, HiddenDim = 176, LayerCount = 24, HeadCount = 8, KvHeadCount = 2,
            VocabSize = 500, MaxSequenceLength = 16, SharedClassifier = true,
        };
        using var dir = new TempDir();
        Llama2cCheckpointWriter.WriteRandom(dir.File("deep.bin"), config, seed: 11);
        using var w = Llama2cCheckpoint.Load(dir.File("deep.bin"));

        float[] logits = ForwardFirstToken(w, token: 1);

        Assert.All(logits, x => Assert.True(float.IsFinite(x)));
        double mean = logits.Average(), std = Math.Sqrt(logits.Average(x => (x - mean) * (x - mean)));
        Assert.InRange(std, 0.1, 10); // neither flat nor exploding
    }

    private static float[] ForwardFirstToken(LlamaWeights w, int token)
    {
        var c = w.Config;
        float[] x = w.TokenEmbedding.Span.Slice(token * c.Dim, c.Dim).ToArray();
        foreach (var layer in w.Layers)
        {
            float[] v = MatVec(layer.Wv, RmsNorm(x, layer.RmsAttention, c.NormEpsilon));
            var heads = new float[c.Dim];
            for (int h = 0; h < c.HeadCount; h++)
                Array.Copy(v, h / c.KvGroupSize * c.HeadDim, heads, h * c.HeadDim, c.HeadDim);
            Add(x, MatVec(layer.Wo, heads));

            float[] xb = RmsNorm(x, layer.RmsFfn, c.NormEpsilon);
            float[] gate = MatVec(layer.W1, xb), up = MatVec(layer.W3, xb);
            for (int i = 0; i < gate.Length; i++)
                gate[i] = gate[i] / (1f + MathF.Exp(-gate[i])) * up[i];
            Add(x, MatVec(layer.W2, gate));
        }
        return MatVec(w.Classifier, RmsNorm(x, w.RmsFinal, c.NormEpsilon));
    }

    private static float[] RmsNorm(float[] x, WeightTensor weight, float eps)
    {
        float scale = 1f / MathF.Sqrt(x.Average(v => v * v) + eps);
        return x.Select((v, i) => v * scale * weight.Span[i]).ToArray();
    }

    private static float[] MatVec(WeightTensor m, float[] x)
    {
        var y = new float[m.Length / x.Length];
        for (int i = 0; i < y.Length; i++)
        {
            var row = m.Span.Slice(i * x.Length, x.Length);
            for (int j = 0; j < x.Length; j++)
                y[i] += row[j] * x[j];
        }
        return y;
    }

    private static void Add(float[] x, float[] delta)
    {
        for (int i = 0; i < x.Length; i++)
            x[i] += delta[i];
    }
}
