using MlPipelines.ManagedEngine.Inference;

namespace MlPipelines.ManagedEngine.Tests.Inference;

/// <summary>A fresh session's logits at every position of a token sequence: all at once (prefill) or one token at a time.</summary>
internal static class SessionLogits
{
    public static float[] Of(TransformerModel model, int[] tokens, int threads = 0, bool oneAtATime = false)
    {
        using var session = model.CreateTransformerSession(threads);
        int vocab = model.Config.VocabSize;
        var logits = new float[tokens.Length * vocab];
        if (!oneAtATime)
            session.Forward(tokens, 0, logits);
        else
            for (int t = 0; t < tokens.Length; t++)
                session.Forward(tokens.AsSpan(t, 1), t, logits.AsSpan(t * vocab, vocab));
        return logits;
    }
}
