using MlPipelines.ManagedEngine.Model;

namespace MlPipelines.OnnxEngine.Tests.Onnx;

/// <summary>Logits of two engines side by side: the measures the parity tests state their bounds in.</summary>
internal static class LogitComparison
{
    /// <summary>The largest absolute difference between two equally long logit arrays.</summary>
    public static float MaxAbsDiff(ReadOnlySpan<float> a, ReadOnlySpan<float> b)
    {
        Assert.Equal(a.Length, b.Length);
        float max = 0;
        for (int i = 0; i < a.Length; i++) max = Math.Max(max, Math.Abs(a[i] - b[i]));
        return max;
    }

    /// <summary>The root mean square of the differences between two equally long logit arrays.</summary>
    public static double RmsDiff(ReadOnlySpan<float> a, ReadOnlySpan<float> b)
    {
        Assert.Equal(a.Length, b.Length);
        double sum = 0;
        for (int i = 0; i < a.Length; i++) sum += (double)(a[i] - b[i]) * (a[i] - b[i]);
        return Math.Sqrt(sum / a.Length);
    }

    /// <summary>Every position's logits for <paramref name="tokens"/> in one forward call from position 0.</summary>
    public static float[] AllLogits(ILanguageModel model, int[] tokens, float[]? hidden = null)
    {
        using var session = model.CreateSession();
        var logits = new float[tokens.Length * model.Config.VocabSize];
        session.Forward(tokens, 0, logits, hidden);
        return logits;
    }

    /// <summary>
    /// Both engines over the same tokens as generation runs them (a prompt chunk, then one token at a time, teacher-forced):
    /// the largest logit difference at any position.
    /// </summary>
    public static float MaxDiffTeacherForced(ILanguageModel a, ILanguageModel b, int[] tokens, int promptLength)
    {
        int vocab = a.Config.VocabSize;
        using IModelSession sa = a.CreateSession(), sb = b.CreateSession();
        var la = new float[promptLength * vocab];
        var lb = new float[promptLength * vocab];
        sa.Forward(tokens.AsSpan(0, promptLength), 0, la);
        sb.Forward(tokens.AsSpan(0, promptLength), 0, lb);
        float worst = MaxAbsDiff(la, lb);
        var one = new float[vocab];
        var other = new float[vocab];
        for (int p = promptLength; p < tokens.Length; p++)
        {
            sa.Forward(tokens.AsSpan(p, 1), p, one);
            sb.Forward(tokens.AsSpan(p, 1), p, other);
            worst = Math.Max(worst, MaxAbsDiff(one, other));
        }
        return worst;
    }
}
