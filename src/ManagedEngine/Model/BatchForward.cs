namespace MlPipelines.ManagedEngine.Model;

/// <summary>Which side of a shorter sequence the padding goes in a batch.</summary>
public enum PaddingSide
{
    /// <summary>Real tokens first, padding after them.</summary>
    Right,

    /// <summary>Padding first, real tokens after it (the layout generation batches use).</summary>
    Left,
}

/// <summary>Which outputs a batch run should produce.</summary>
[Flags]
public enum BatchOutputs
{
    /// <summary>Logits for every position.</summary>
    Logits = 1,

    /// <summary>Final hidden states for every position (for embeddings).</summary>
    HiddenStates = 2,
}

/// <summary>
/// The results of <see cref="ILanguageModel.ForwardBatch"/>: padded <c>[batch, length, ...]</c> arrays,
/// read per row and real-token position through the accessors, which hide the padding.
/// </summary>
public sealed class BatchForwardResult
{
    /// <summary>Wraps padded result arrays (<c>[batch, paddedLength, vocab]</c> and <c>[batch, paddedLength, dim]</c>).</summary>
    public BatchForwardResult(int[] lengths, int paddedLength, PaddingSide padding, int vocab, int dim, float[]? logits, float[]? hidden)
    {
        Lengths = lengths;
        PaddedLength = paddedLength;
        Padding = padding;
        _vocab = vocab;
        _dim = dim;
        _logits = logits;
        _hidden = hidden;
    }

    private readonly int _vocab, _dim;
    private readonly float[]? _logits, _hidden;

    /// <summary>Each row's number of real tokens.</summary>
    public IReadOnlyList<int> Lengths { get; }

    /// <summary>The padded sequence length of the batch.</summary>
    public int PaddedLength { get; }

    /// <summary>Where the padding went.</summary>
    public PaddingSide Padding { get; }

    /// <summary>Logits of row <paramref name="row"/> at its real token <paramref name="position"/>.</summary>
    public ReadOnlySpan<float> Logits(int row, int position) =>
        Slot(_logits ?? throw new InvalidOperationException("Logits were not requested."), row, position, _vocab);

    /// <summary>Final hidden state of row <paramref name="row"/> at its real token <paramref name="position"/>.</summary>
    public ReadOnlySpan<float> HiddenState(int row, int position) =>
        Slot(_hidden ?? throw new InvalidOperationException("Hidden states were not requested."), row, position, _dim);

    private ReadOnlySpan<float> Slot(float[] data, int row, int position, int width)
    {
        if ((uint)row >= (uint)Lengths.Count)
            throw new ArgumentOutOfRangeException(nameof(row), $"Row {row} is outside the batch of {Lengths.Count}.");
        int length = Lengths[row];
        if ((uint)position >= (uint)length)
            throw new ArgumentOutOfRangeException(nameof(position), $"Row {row} has {length} tokens; position {position} is outside it.");
        int slot = Padding == PaddingSide.Right ? position : PaddedLength - length + position;
        long start = ((long)row * PaddedLength + slot) * width;
        return data.AsSpan(checked((int)start), width);
    }
}

/// <summary>Checks of <see cref="ILanguageModel.ForwardBatch"/>'s arguments, shared by the engines.</summary>
public static class BatchArguments
{
    /// <summary>Throws an <see cref="ArgumentException"/> naming the first problem; returns the row lengths.</summary>
    public static int[] Check(ModelConfig config, IReadOnlyList<int[]> sequences, BatchOutputs outputs)
    {
        ArgumentNullException.ThrowIfNull(sequences);
        if (sequences.Count == 0)
            throw new ArgumentException("The batch is empty.", nameof(sequences));
        if ((outputs & (BatchOutputs.Logits | BatchOutputs.HiddenStates)) == 0)
            throw new ArgumentException("Ask for logits, hidden states, or both.", nameof(outputs));
        var lengths = new int[sequences.Count];
        for (int b = 0; b < sequences.Count; b++)
        {
            int[] sequence = sequences[b] ?? throw new ArgumentNullException(nameof(sequences), $"Sequence {b} is null.");
            if (sequence.Length == 0)
                throw new ArgumentException($"Sequence {b} is empty.", nameof(sequences));
            ForwardArguments.Check(config, sequence, 0, 0, 0, 0);
            lengths[b] = sequence.Length;
        }
        return lengths;
    }
}
