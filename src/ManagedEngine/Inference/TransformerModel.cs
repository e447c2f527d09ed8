using System.Collections.Concurrent;
using MlPipelines.ManagedEngine.Kernels;
using MlPipelines.ManagedEngine.Model;

namespace MlPipelines.ManagedEngine.Inference;

/// <summary>
/// The managed engine's model: fp32 weights (memory-mapped, never copied) plus the tables every
/// session shares. Create one per model and as many sessions as there are concurrent sequences.
/// </summary>
public sealed class TransformerModel : ILanguageModel
{
    // Sessions reused by ForwardBatch, so a batch does not allocate KV caches afresh.
    private readonly ConcurrentBag<TransformerSession> _batchSessions = new();

    /// <summary>Wraps loaded weights; the model owns them and disposes them with itself.</summary>
    /// <param name="weights">The weights.</param>
    /// <param name="threads">Threads a session computes with, and rows of a batch processed at once; 0 = one per processor.</param>
    public TransformerModel(LlamaWeights weights, int threads = 0)
    {
        ArgumentNullException.ThrowIfNull(weights);
        ArgumentOutOfRangeException.ThrowIfNegative(threads);
        Weights = weights;
        Config = weights.Config;
        Threads = threads == 0 ? Environment.ProcessorCount : threads;
        Rope = new RopeTable(Config.HeadDim, Config.MaxSequenceLength, Config.RopeTheta);
    }

    /// <summary>How many rows of a batch run at once.</summary>
    public int Threads { get; }

    /// <inheritdoc />
    public ModelConfig Config { get; }

    /// <summary>The weights the forward pass reads.</summary>
    public LlamaWeights Weights { get; }

    internal RopeTable Rope { get; }

    /// <inheritdoc />
    public IModelSession CreateSession() => new TransformerSession(this, Threads);

    /// <summary>Creates a session computing with <paramref name="threads"/> threads (0: the model's <see cref="Threads"/>).</summary>
    public TransformerSession CreateTransformerSession(int threads = 0) => new(this, threads == 0 ? Threads : threads);

    /// <inheritdoc />
    /// <remarks>
    /// Rows run in parallel, each in its own session, so every row's result is exactly what it
    /// gives alone whatever the thread count.
    /// </remarks>
    public BatchForwardResult ForwardBatch(IReadOnlyList<int[]> sequences, BatchOutputs outputs)
    {
        int[] lengths = BatchArguments.Check(Config, sequences, outputs);
        int padded = lengths.Max(), vocab = Config.VocabSize, dim = Config.Dim;
        float[]? logits = outputs.HasFlag(BatchOutputs.Logits) ? new float[checked(sequences.Count * padded * vocab)] : null;
        float[]? hidden = outputs.HasFlag(BatchOutputs.HiddenStates) ? new float[checked(sequences.Count * padded * dim)] : null;
        Parallel.For(0, sequences.Count, new ParallelOptions { MaxDegreeOfParallelism = Threads }, row =>
        {
            // Rows already run in parallel, so each row's session computes on one thread.
            if (!_batchSessions.TryTake(out TransformerSession? session))
                session = new TransformerSession(this, threads: 1);
            int n = lengths[row];
            session.Forward(sequences[row], 0,
                logits is null ? default : logits.AsSpan(row * padded * vocab, n * vocab),
                hidden is null ? default : hidden.AsSpan(row * padded * dim, n * dim));
            _batchSessions.Add(session);
        });
        return new BatchForwardResult(lengths, padded, PaddingSide.Right, vocab, dim, logits, hidden);
    }

    /// <inheritdoc />
    public void Dispose()
    {
        while (_batchSessions.TryTake(out TransformerSession? session))
            session.Dispose();
        Weights.Dispose();
    }
}
