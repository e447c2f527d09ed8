namespace MlPipelines.ManagedEngine.Model;

/// <summary>
/// The argument checks of <see cref="IModelSession.Forward"/>, shared by every engine so that bad
/// arguments fail the same way whichever engine runs.
/// </summary>
public static class ForwardArguments
{
    /// <summary>
    /// Throws an <see cref="ArgumentException"/> naming the first problem: no tokens, a position past the
    /// cache (<paramref name="cached"/>) or the context, a buffer of the wrong size, a token outside the vocabulary.
    /// </summary>
    public static void Check(ModelConfig c, ReadOnlySpan<int> tokens, int position, int cached, int logitsLength, int hiddenLength)
    {
        int n = tokens.Length;
        if (n == 0)
            throw new ArgumentException("At least one token is required.", nameof(tokens));
        if (position < 0 || position > cached)
            throw new ArgumentOutOfRangeException(nameof(position), $"Position {position} must be between 0 and the cached length {cached}.");
        if ((long)position + n > c.MaxSequenceLength)
            throw new ArgumentException($"Positions {position}..{position + n - 1} exceed the model's context of {c.MaxSequenceLength} tokens.", nameof(tokens));
        long all = (long)n * c.VocabSize;
        if (logitsLength != 0 && logitsLength != c.VocabSize && logitsLength != all)
            throw new ArgumentException($"Logits buffer must be empty, {c.VocabSize} floats (last position) or {all} (all positions); got {logitsLength}.", "logits");
        if (hiddenLength != 0 && hiddenLength != (long)n * c.Dim)
            throw new ArgumentException($"Hidden-state buffer must be empty or {(long)n * c.Dim} floats; got {hiddenLength}.", "hiddenStates");
        foreach (int t in tokens)
            if ((uint)t >= (uint)c.VocabSize)
                throw new ArgumentOutOfRangeException(nameof(tokens), $"Token id {t} is outside the vocabulary of {c.VocabSize}.");
    }
}
