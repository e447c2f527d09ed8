using System.Collections.Concurrent;
using MlPipelines.ManagedEngine.Kernels;
using MlPipelines.ManagedEngine.Model;
using MlPipelines.ManagedEngine.Quantization;
using MlPipelines.ManagedEngine.WeightStorage;

namespace MlPipelines.ManagedEngine.Inference;

/// <summary>
/// The managed engine's model: fp32 weights (memory-mapped, never copied) or int8 Q8_0 weights, plus
/// the tables every session shares. Create one per model and as many sessions as there are
/// concurrent sequences.
/// </summary>
public sealed class TransformerModel : ILanguageModel
{
    // Sessions reused by ForwardBatch, so a batch does not allocate KV caches afresh.
    private readonly ConcurrentBag<TransformerSession> _batchSessions = new();
    // Forward passes in flight: Dispose releases the (possibly memory-mapped) weights only after the last one ends.
    private readonly InFlightGate _calls;

    /// <summary>Wraps loaded weights; the model owns them and disposes them with itself.</summary>
    /// <param name="weights">The weights.</param>
    /// <param name="threads">Threads a session computes with, and rows of a batch processed at once; 0 = one per processor.</param>
    public TransformerModel(LlamaWeights weights, int threads = 0)
        : this(weights?.Config ?? throw new ArgumentNullException(nameof(weights)), threads, weights, null)
    {
    }

    /// <summary>Wraps int8 weights; the model owns them and disposes them with itself.</summary>
    /// <param name="weights">The quantised weights.</param>
    /// <param name="threads">Threads a session computes with, and rows of a batch processed at once; 0 = one per processor.</param>
    public TransformerModel(QuantizedLlamaWeights weights, int threads = 0)
        : this(weights?.Config ?? throw new ArgumentNullException(nameof(weights)), threads, null, weights)
    {
    }

    /// <summary>Wraps weights kept as their file stores them (F16, BF16, ggml blocks); the model owns and disposes them.</summary>
    /// <param name="weights">The stored weights (see <see cref="Formats.Gguf.GgufCheckpoint.LoadStored"/>).</param>
    /// <param name="threads">Threads a session computes with, and rows of a batch processed at once; 0 = one per processor.</param>
    public TransformerModel(StoredLlamaWeights weights, int threads = 0)
        : this(weights?.Config ?? throw new ArgumentNullException(nameof(weights)), threads, null, null, weights)
    {
    }

    private TransformerModel(ModelConfig config, int threads, LlamaWeights? f32, QuantizedLlamaWeights? q8, StoredLlamaWeights? stored = null)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(threads);
        _calls = new InFlightGate(this, ReleaseWeights);
        Config = config;
        _f32 = f32;
        QuantizedWeights = q8;
        Threads = threads == 0 ? Environment.ProcessorCount : threads;
        Rope = RopeTable.For(Config);
        int dim = config.Dim, qDim = config.QueryDim, kv = config.KvDim, hidden = config.HiddenDim;
        if (f32 is not null)
        {
            Blocks = f32.Layers.Select(l => new BlockWeights(l.RmsAttention,
                Projection.Of(l.Wq, qDim, dim), Projection.Of(l.Wk, kv, dim), Projection.Of(l.Wv, kv, dim), Projection.Of(l.Wo, dim, qDim),
                l.RmsFfn, Projection.Of(l.W1, hidden, dim), Projection.Of(l.W2, dim, hidden), Projection.Of(l.W3, hidden, dim))).ToArray();
            TokenEmbedding = f32.TokenEmbedding;
            RmsFinal = f32.RmsFinal;
            Classifier = Projection.Of(f32.Classifier, config.VocabSize, dim);
        }
        else if (stored is not null)
        {
            StoredWeights = stored;
            QueryKeyRowsInHalves = stored.RotaryHalves;
            Blocks = stored.Layers.Select(l => new BlockWeights(l.RmsAttention,
                Projection.Of(l.Wq), Projection.Of(l.Wk), Projection.Of(l.Wv), Projection.Of(l.Wo),
                l.RmsFfn, Projection.Of(l.W1), Projection.Of(l.W2), Projection.Of(l.W3))).ToArray();
            StoredEmbedding = stored.Embedding;
            RmsFinal = stored.RmsFinal;
            Classifier = Projection.Of(stored.Classifier);
        }
        else
        {
            Blocks = q8!.Layers.Select(l => new BlockWeights(l.RmsAttention,
                Projection.Of(l.Wq), Projection.Of(l.Wk), Projection.Of(l.Wv), Projection.Of(l.Wo),
                l.RmsFfn, Projection.Of(l.W1), Projection.Of(l.W2), Projection.Of(l.W3))).ToArray();
            TokenEmbedding = q8.TokenEmbedding;
            RmsFinal = q8.RmsFinal;
            Classifier = Projection.Of(q8.Classifier);
        }
    }

    private readonly LlamaWeights? _f32;

    /// <summary>True when the weights are int8 (Q8_0).</summary>
    public bool IsQuantized => QuantizedWeights is not null;

    /// <summary>The int8 weights, or null for an fp32 model.</summary>
    public QuantizedLlamaWeights? QuantizedWeights { get; }

    /// <summary>The weights as their file stores them, or null.</summary>
    public StoredLlamaWeights? StoredWeights { get; }

    internal IReadOnlyList<BlockWeights> Blocks { get; }
    internal WeightTensor TokenEmbedding { get; }

    /// <summary>The embedding table as stored (looked up a row at a time), or null when <see cref="TokenEmbedding"/> is fp32.</summary>
    internal StoredMatrix? StoredEmbedding { get; }
    internal WeightTensor RmsFinal { get; }
    internal Projection Classifier { get; }

    /// <summary>How sessions store their keys and values (default fp32).</summary>
    public KvCacheFormat KvCache { get; init; } = KvCacheFormat.F32;

    /// <summary>How many rows of a batch run at once.</summary>
    public int Threads { get; }

    /// <inheritdoc />
    public ModelConfig Config { get; }

    /// <summary>The fp32 weights the forward pass reads.</summary>
    /// <exception cref="InvalidOperationException">The model holds int8 weights (see <see cref="QuantizedWeights"/>).</exception>
    public LlamaWeights Weights => _f32 ?? throw new InvalidOperationException(
        StoredWeights is not null ? "This model holds its weights as stored; see StoredWeights." : "This model holds int8 weights; see QuantizedWeights.");

    internal RopeTable Rope { get; }

    /// <summary>Whether q and k come out of their projections in Hugging Face's order (see <see cref="StoredLlamaWeights.RotaryHalves"/>).</summary>
    internal bool QueryKeyRowsInHalves { get; }

    /// <inheritdoc />
    public EngineDescription Description => new()
    {
        Engine = "managed",
        Provider = "cpu (" + Kernels.CpuFeatures.Describe() + ")",
        Precision = StoredWeights is { } stored ? stored.FormatSummary : IsQuantized ? "int8 (Q8_0)" : "fp32",
        Threads = Threads,
        Model = StoredWeights?.Source ?? QuantizedWeights?.Source ?? _f32!.Source,
    };

    /// <inheritdoc />
    /// <exception cref="ObjectDisposedException">The model was disposed.</exception>
    public IModelSession CreateSession() => CreateTransformerSession();

    /// <summary>Creates a session computing with <paramref name="threads"/> threads (0: the model's <see cref="Threads"/>).</summary>
    /// <exception cref="ObjectDisposedException">The model was disposed.</exception>
    public TransformerSession CreateTransformerSession(int threads = 0)
    {
        _calls.ThrowIfClosed();
        return new(this, threads == 0 ? Threads : threads);
    }

    /// <summary>Counts a forward pass in, so the weights stay mapped until it ends; throws if the model was disposed.</summary>
    internal void EnterCall() => _calls.Enter();

    /// <summary>Counts a forward pass out (the last one out of a disposed model releases the weights).</summary>
    internal void ExitCall() => _calls.Exit();

    /// <inheritdoc />
    /// <remarks>
    /// Rows run in parallel, each in its own session, so every row's result is exactly what it
    /// gives alone whatever the thread count.
    /// </remarks>
    public BatchForwardResult ForwardBatch(IReadOnlyList<int[]> sequences, BatchOutputs outputs)
    {
        int[] lengths = BatchArguments.Check(Config, sequences, outputs);
        _calls.Enter();
        try
        {
            return RunBatch(sequences, outputs, lengths);
        }
        finally
        {
            _calls.Exit();
        }
    }

    private BatchForwardResult RunBatch(IReadOnlyList<int[]> sequences, BatchOutputs outputs, int[] lengths)
    {
        int padded = lengths.Max(), vocab = Config.VocabSize, dim = Config.Dim;
        float[]? logits = outputs.HasFlag(BatchOutputs.Logits) ? new float[checked(sequences.Count * padded * vocab)] : null;
        float[]? hidden = outputs.HasFlag(BatchOutputs.HiddenStates) ? new float[checked(sequences.Count * padded * dim)] : null;
        Parallel.For(0, sequences.Count, new ParallelOptions { MaxDegreeOfParallelism = Threads }, row =>
        {
            // Rows already run in parallel, so each row's session computes on one thread.
            if (!_batchSessions.TryTake(out TransformerSession? session))
                session = new TransformerSession(this, threads: 1);
            int n = lengths[row];
            session.ForwardWithinCall(sequences[row], 0,
                logits is null ? default : logits.AsSpan(row * padded * vocab, n * vocab),
                hidden is null ? default : hidden.AsSpan(row * padded * dim, n * dim));
            _batchSessions.Add(session);
        });
        return new BatchForwardResult(lengths, padded, PaddingSide.Right, vocab, dim, logits, hidden);
    }

    /// <inheritdoc />
    /// <remarks>
    /// Safe while other threads are in a forward pass on this model: theirs finishes on intact weights, which are
    /// released when the last one ends; every later call (and <see cref="CreateSession"/>) throws <see cref="ObjectDisposedException"/>.
    /// </remarks>
    public void Dispose() => _calls.Close();

    private void ReleaseWeights()
    {
        while (_batchSessions.TryTake(out TransformerSession? session))
            session.Dispose();
        _f32?.Dispose();
        QuantizedWeights?.Dispose();
        StoredWeights?.Dispose();
    }
}
