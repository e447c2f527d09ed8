using MlPipelines.ManagedEngine.Inference;

namespace MlPipelines.Exporter.Tests.Support;

/// <summary>The managed engine's outputs, the reference the exported graph is held to.</summary>
internal static class Reference
{
    /// <summary>Logits of every position of <paramref name="tokens"/> run from position 0.</summary>
    public static float[] AllLogits(TransformerModel model, ReadOnlySpan<int> tokens)
    {
        using var session = model.CreateTransformerSession();
        var logits = new float[tokens.Length * model.Config.VocabSize];
        session.Forward(tokens, 0, logits);
        return logits;
    }

    /// <summary>Final hidden states of every position.</summary>
    public static float[] Hidden(TransformerModel model, ReadOnlySpan<int> tokens)
    {
        using var session = model.CreateTransformerSession();
        var hidden = new float[tokens.Length * model.Config.Dim];
        session.Forward(tokens, 0, default, hidden);
        return hidden;
    }

    /// <summary>Deterministic token ids in [0, vocab).</summary>
    public static int[] Tokens(int count, int vocab, int seed)
    {
        var rng = new Random(seed);
        var ids = new int[count];
        ids[0] = 1;   // BOS, as real prompts start
        for (int i = 1; i < count; i++) ids[i] = rng.Next(vocab);
        return ids;
    }

    public static float MaxAbsDiff(ReadOnlySpan<float> a, ReadOnlySpan<float> b)
    {
        Assert.Equal(a.Length, b.Length);
        float max = 0;
        for (int i = 0; i < a.Length; i++)
        {
            Assert.True(float.IsFinite(a[i]) && float.IsFinite(b[i]), $"non-finite value at {i}: {a[i]} vs {b[i]}");
            max = Math.Max(max, Math.Abs(a[i] - b[i]));
        }
        return max;
    }

    public static int ArgMax(ReadOnlySpan<float> x)
    {
        int best = 0;
        for (int i = 1; i < x.Length; i++) if (x[i] > x[best]) best = i;
        return best;
    }
}
