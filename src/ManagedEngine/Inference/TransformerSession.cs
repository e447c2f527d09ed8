using MlPipelines.ManagedEngine.Kernels;
using MlPipelines.ManagedEngine.Model;
using MlPipelines.ManagedEngine.WeightStorage;

namespace MlPipelines.ManagedEngine.Inference;

/// <summary>
/// One sequence's decoder state on the managed engine: the KV cache, the activation buffers and a
/// worker pool, all allocated once here so that decoding allocates nothing per token.
/// <para>
/// The forward pass follows llama2.c's order, but a chunk of tokens goes through each layer
/// together: the projections are matrix products over the whole chunk (each weight row is loaded
/// once per chunk rather than once per token), attention is causal within the chunk. Chunks longer
/// than <see cref="ChunkCapacity"/> are processed in slices. Every dot product is computed the same
/// way in a chunk and in a single-token step, so prefill and decode agree bit for bit.
/// </para>
/// </summary>
public sealed unsafe class TransformerSession : IModelSession
{
    /// <summary>Tokens that go through a layer together (bounds the activation buffers).</summary>
    public const int MaxChunk = 128;

    // A chunk's projections hand weight rows to threads in a few chunks each, claimed as threads finish the last, so a
    // thread the machine slows does not hold the others up (two threads, prefill-128, one process alternating with one
    // share per thread: +1–4 % on llama3-1b and 110m); chunks start at multiples of the fp16 prefill tile's block of
    // rows. A single token's projections keep one contiguous share per thread: they are short and memory-bound, and
    // measured slower in chunks (110m Q8_0, two threads: 227–309 against 247–410 tok/s).
    private const int PrefillChunksPerThread = 4, PrefillChunkAlignment = 64, BlockChunkAlignment = 16;

    private readonly TransformerModel _model;
    private readonly ModelConfig _c;
    private readonly WorkerPool _pool;
    private readonly ProjectionJob _projection = new();
    private readonly Q8ProjectionJob _q8Projection = new();
    // Quantised activations of int8 models, one per chunk token, per (row length, group size).
    private readonly Dictionary<(int Cols, int Group), Quantization.QuantizedVector[]> _q8Inputs = new();
    private readonly AttentionJob _attention = new();
    private readonly StoredProjectionJob _storedProjection = new();
    // Activations quantised for stored block-format weights, per (row length, grouping); each remembers which input
    // (buffer and version) it holds, so wq/wk/wv (and w1/w3) share one quantisation.
    private readonly Dictionary<(int Cols, ActivationGrouping Grouping), (QuantizedActivations Buffer, nint Source, int Version)> _blockInputs = new();
    private int _inputVersion;   // bumped whenever a projection input buffer is rewritten
    // Activations times 2^112 for fp16 weights (HalfRows' identity), computed once per input for every thread rather
    // than by each thread in its own copy: at two threads the copies doubled the activations' cache footprint.
    private float[] _rebiased = [];
    private (nint Source, int Version, int Count, bool Ok) _rebiasedInput = (0, -1, 0, false);

    // Activations for a chunk of tokens, row-major [ChunkCapacity, width] (names as in llama2.c). _q and the attention
    // output (in _xb) are QueryDim wide, which an explicit head size can make wider than Dim.
    // Allocated on the pinned heap so the kernels can hold raw pointers to them.
    private readonly float[] _x, _xb, _xb2, _q, _hb, _hb2, _hbScratch;
    private readonly float[][] _keyCache, _valueCache;   // [layer][position * kvDim] (fp32 cache)
    private readonly ushort[][] _keyCache16, _valueCache16; // [layer][position * kvDim] (fp16 cache)
    private readonly float[] _kScratch, _vScratch;       // a chunk's new keys/values before they are rounded into the fp16 cache
    private readonly bool _f16;
    private bool _disposed;

    internal TransformerSession(TransformerModel model, int threads)
    {
        _model = model;
        _c = model.Config;
        ChunkCapacity = Math.Min(MaxChunk, _c.MaxSequenceLength);
        _x = Pinned(ChunkCapacity * _c.Dim);
        _xb = Pinned(ChunkCapacity * Math.Max(_c.Dim, _c.QueryDim));
        _xb2 = Pinned(ChunkCapacity * _c.Dim);
        _q = Pinned(ChunkCapacity * _c.QueryDim);
        _hb = Pinned(ChunkCapacity * _c.HiddenDim);
        _hb2 = Pinned(ChunkCapacity * _c.HiddenDim);
        _hbScratch = Pinned(ChunkCapacity * _c.HiddenDim);
        long cachePerLayer = (long)_c.MaxSequenceLength * _c.KvDim;
        if (cachePerLayer > Array.MaxLength)
            throw new ArgumentException($"A KV cache of {_c.MaxSequenceLength} positions x {_c.KvDim} is too large for one layer buffer.");
        _f16 = model.KvCache == KvCacheFormat.F16;
        _keyCache = new float[_f16 ? 0 : _c.LayerCount][];
        _valueCache = new float[_f16 ? 0 : _c.LayerCount][];
        _keyCache16 = new ushort[_f16 ? _c.LayerCount : 0][];
        _valueCache16 = new ushort[_f16 ? _c.LayerCount : 0][];
        for (int l = 0; l < _c.LayerCount; l++)
        {
            if (_f16)
            {
                _keyCache16[l] = GC.AllocateUninitializedArray<ushort>((int)cachePerLayer, pinned: true);
                _valueCache16[l] = GC.AllocateUninitializedArray<ushort>((int)cachePerLayer, pinned: true);
            }
            else
            {
                _keyCache[l] = Pinned((int)cachePerLayer);
                _valueCache[l] = Pinned((int)cachePerLayer);
            }
        }
        _kScratch = _f16 ? Pinned(ChunkCapacity * _c.KvDim) : [];
        _vScratch = _f16 ? Pinned(ChunkCapacity * _c.KvDim) : [];
        _pool = new WorkerPool(threads);
        _attention.Scores = Enumerable.Range(0, threads).Select(_ => Pinned(checked(ChunkCapacity * _c.MaxSequenceLength))).ToArray();
        _attention.HeadDim = _c.HeadDim;
        _attention.KvDim = _c.KvDim;
        _attention.GroupSize = _c.KvGroupSize;
        _attention.HalfCache = _f16;
        _attention.QueryDim = _c.QueryDim;
    }

    /// <summary>
    /// Bytes of the KV cache every session of a model of <paramref name="config"/> allocates when it is created: keys and
    /// values of every layer for the whole context (layers × 2 × context × kv_dim × 4 bytes, or × 2 for an fp16 cache).
    /// </summary>
    public static long KvCacheBytes(ModelConfig config, KvCacheFormat format = KvCacheFormat.F32)
    {
        ArgumentNullException.ThrowIfNull(config);
        return 2L * config.LayerCount * config.MaxSequenceLength * config.KvDim * (format == KvCacheFormat.F16 ? sizeof(ushort) : sizeof(float));
    }

    /// <inheritdoc />
    public ModelConfig Config => _c;

    /// <inheritdoc />
    public int Position { get; private set; }

    /// <summary>Tokens processed through a layer together.</summary>
    public int ChunkCapacity { get; }

    /// <summary>Threads this session computes with.</summary>
    public int Threads => _pool.Threads;

    /// <inheritdoc />
    public void Forward(ReadOnlySpan<int> tokens, int position, Span<float> logits, Span<float> hiddenStates = default)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        ForwardArguments.Check(_c, tokens, position, Position, logits.Length, hiddenStates.Length);
        _model.EnterCall();   // the weights stay mapped until this pass ends, even if the model is disposed meanwhile
        try
        {
            Run(tokens, position, logits, hiddenStates);
        }
        finally
        {
            _model.ExitCall();
        }
    }

    /// <summary>
    /// <see cref="Forward"/> for a caller already inside a call on the model (<see cref="TransformerModel.ForwardBatch"/>'s
    /// rows): entering again would refuse rows that start after a concurrent Dispose although the batch holds the weights.
    /// </summary>
    internal void ForwardWithinCall(ReadOnlySpan<int> tokens, int position, Span<float> logits, Span<float> hiddenStates)
    {
        ForwardArguments.Check(_c, tokens, position, Position, logits.Length, hiddenStates.Length);
        Run(tokens, position, logits, hiddenStates);
    }

    private void Run(ReadOnlySpan<int> tokens, int position, Span<float> logits, Span<float> hiddenStates)
    {
        int n = tokens.Length, vocab = _c.VocabSize, dim = _c.Dim;
        bool allLogits = n > 1 && logits.Length == (long)n * vocab;
        Position = position;   // writing at `position` discards anything cached after it
        for (int done = 0; done < n;)
        {
            int m = Math.Min(ChunkCapacity, n - done);
            ForwardChunk(tokens.Slice(done, m), position + done);
            Position = position + done + m;
            if (!hiddenStates.IsEmpty)
                _x.AsSpan(0, m * dim).CopyTo(hiddenStates.Slice(done * dim, m * dim));
            if (allLogits)
                Classify(0, m, logits.Slice(done * vocab, m * vocab));
            else if (!logits.IsEmpty && done + m == n)
                Classify(m - 1, 1, logits);
            done += m;
        }
    }

    /// <inheritdoc />
    public void Rewind(int position)
    {
        if (position < 0 || position > Position)
            throw new ArgumentOutOfRangeException(nameof(position), $"Cannot rewind to {position}: the cache holds {Position} positions.");
        Position = position;
    }

    /// <inheritdoc />
    public void Reset() => Position = 0;

    /// <inheritdoc />
    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        _pool.Dispose();
    }

    /// <summary>A chunk of m tokens at positions pos..pos+m-1 through every layer; leaves the final-normed states in <c>_x</c>.</summary>
    private void ForwardChunk(ReadOnlySpan<int> tokens, int pos)
    {
        int m = tokens.Length, dim = _c.Dim, qDim = _c.QueryDim, kvDim = _c.KvDim, hidden = _c.HiddenDim;
        float eps = _c.NormEpsilon;
        if (_model.StoredEmbedding is { } stored)
        {
            for (int t = 0; t < m; t++)
                stored.ReadRow(tokens[t], _x.AsSpan(t * dim, dim));
        }
        else
        {
            ReadOnlySpan<float> embedding = _model.TokenEmbedding.Span;
            for (int t = 0; t < m; t++)
                embedding.Slice(tokens[t] * dim, dim).CopyTo(_x.AsSpan(t * dim, dim));
        }

        fixed (float* x = _x, xb = _xb, xb2 = _xb2, q = _q, hb = _hb, hb2 = _hb2)
        {
            for (int l = 0; l < _c.LayerCount; l++)
            {
                BlockWeights layer = _model.Blocks[l];

                // Attention: RMSNorm, q/k/v projections (k and v straight into an fp32 cache, or through scratch rows
                // into an fp16 one), RoPE.
                for (int t = 0; t < m; t++)
                    VectorOps.RmsNorm(_xb.AsSpan(t * dim, dim), _x.AsSpan(t * dim, dim), layer.RmsAttention.Span, eps);
                _inputVersion++;
                Span<float> newKeys = _f16 ? _kScratch.AsSpan(0, m * kvDim) : _keyCache[l].AsSpan(pos * kvDim, m * kvDim);
                Span<float> newValues = _f16 ? _vScratch.AsSpan(0, m * kvDim) : _valueCache[l].AsSpan(pos * kvDim, m * kvDim);
                fixed (float* k = newKeys, v = newValues)
                {
                    Project(layer.Wq, xb, m, q, qDim);
                    Project(layer.Wk, xb, m, k, kvDim);
                    Project(layer.Wv, xb, m, v, kvDim);
                }
                for (int t = 0; t < m; t++)
                {
                    if (_model.QueryKeyRowsInHalves)
                    {
                        _model.Rope.RotateHalvesIntoPairs(_q.AsSpan(t * qDim, qDim), pos + t);
                        _model.Rope.RotateHalvesIntoPairs(newKeys.Slice(t * kvDim, kvDim), pos + t);
                    }
                    else
                    {
                        _model.Rope.Rotate(_q.AsSpan(t * qDim, qDim), pos + t);
                        _model.Rope.Rotate(newKeys.Slice(t * kvDim, kvDim), pos + t);
                    }
                }
                if (_f16)
                {
                    KvConvert.ToF16(newKeys, _keyCache16[l].AsSpan(pos * kvDim, m * kvDim));
                    KvConvert.ToF16(newValues, _valueCache16[l].AsSpan(pos * kvDim, m * kvDim));
                }

                // Grouped-query attention: query head h reads key/value head h / groupSize.
                fixed (float* k = _f16 ? null : _keyCache[l], v = _f16 ? null : _valueCache[l])
                fixed (ushort* k16 = _f16 ? _keyCache16[l] : null, v16 = _f16 ? _valueCache16[l] : null)
                {
                    _attention.Q = q;
                    _attention.Output = xb;
                    _attention.Keys = k;
                    _attention.Values = v;
                    _attention.Keys16 = k16;
                    _attention.Values16 = v16;
                    _attention.Start = pos;
                    _attention.Tokens = m;
                    _pool.Run(_attention, _c.HeadCount);
                }
                _inputVersion++;
                Project(layer.Wo, xb, m, xb2, dim);
                VectorOps.AddInPlace(_x.AsSpan(0, m * dim), _xb2.AsSpan(0, m * dim));

                // Feed-forward: RMSNorm, SwiGLU(W1 x, W3 x), W2, residual.
                for (int t = 0; t < m; t++)
                    VectorOps.RmsNorm(_xb.AsSpan(t * dim, dim), _x.AsSpan(t * dim, dim), layer.RmsFfn.Span, eps);
                _inputVersion++;
                Project(layer.W1, xb, m, hb, hidden);
                Project(layer.W3, xb, m, hb2, hidden);
                VectorOps.SwiGlu(_hb.AsSpan(0, m * hidden), _hb2.AsSpan(0, m * hidden), _hbScratch);
                _inputVersion++;
                Project(layer.W2, hb, m, xb, dim);
                VectorOps.AddInPlace(_x.AsSpan(0, m * dim), _xb.AsSpan(0, m * dim));
            }
        }

        for (int t = 0; t < m; t++)
            VectorOps.RmsNorm(_x.AsSpan(t * dim, dim), _x.AsSpan(t * dim, dim), _model.RmsFinal.Span, eps);
        _inputVersion++;
    }

    /// <summary><c>Y[t] = W X[t]</c> for the chunk's m tokens; W is <c>[rows, cols]</c>, Y rows are <c>rows</c> apart.</summary>
    private void Project(Projection weights, float* x, int m, float* y, int rows)
    {
        if (weights.Q8 is { } q8)
        {
            ProjectQ8(q8, x, m, y, rows);
            return;
        }
        if (weights.Stored is { } stored)
        {
            ProjectStored(stored, x, m, y, rows);
            return;
        }
        _projection.W = weights.F32.Pointer;
        _projection.Cols = weights.Cols;
        _projection.X = x;
        _projection.Tokens = m;
        _projection.Y = y;
        _projection.YStride = rows;
        RunRows(_projection, rows, m);
    }

    private void ProjectStored(StoredMatrix weights, float* x, int m, float* y, int rows)
    {
        _storedProjection.Matrix = weights;
        _storedProjection.X = x;
        _storedProjection.Quantized = null;
        _storedProjection.Rebiased = weights.Format == WeightFormat.F16 ? Rebiased(x, m * weights.Cols) : null;
        if (weights.Activations is { } grouping)
        {
            var key = (weights.Cols, grouping);
            if (!_blockInputs.TryGetValue(key, out var entry))
                entry = (new QuantizedActivations(weights.Cols, ChunkCapacity, grouping), 0, -1);
            if (entry.Source != (nint)x || entry.Version != _inputVersion)
            {
                entry.Buffer.Quantize(x, m, weights.Cols);
                entry = (entry.Buffer, (nint)x, _inputVersion);
            }
            _blockInputs[key] = entry;
            _storedProjection.Quantized = entry.Buffer;
        }
        _storedProjection.Tokens = m;
        _storedProjection.Y = y;
        _storedProjection.YStride = rows;
        // Block formats' prefill kernels take eight rows (or two) at a time, so their chunks need only start on a line of
        // outputs (16 floats): small matrices then split evenly (15m's 288 rows: six chunks of 48, not 64·4 + 32).
        RunRows(_storedProjection, rows, m, weights.Activations is null ? PrefillChunkAlignment : BlockChunkAlignment);
    }

    private void RunRows(ParallelJob job, int rows, int tokens, int alignment = PrefillChunkAlignment)
    {
        if (tokens > 1) _pool.Run(job, rows, PrefillChunksPerThread, alignment);
        else _pool.Run(job, rows);
    }

    /// <summary><c>x · 2^112</c> for fp16 weights, shared by the projections that read the same input; null if x has values too large for it.</summary>
    private float* Rebiased(float* x, int count)
    {
        if (_rebiased.Length < count)
        {
            _rebiased = Pinned(count);
            _rebiasedInput = (0, -1, 0, false);
        }
        float* buffer = (float*)System.Runtime.CompilerServices.Unsafe.AsPointer(ref _rebiased[0]);   // pinned
        var (source, version, done, ok) = _rebiasedInput;
        if (source != (nint)x || version != _inputVersion || done != count)
        {
            ok = HalfRows.Rebias(x, count, buffer);
            _rebiasedInput = ((nint)x, _inputVersion, count, ok);
        }
        return ok ? buffer : null;
    }

    private void ProjectQ8(Quantization.Q8Matrix q8, float* x, int m, float* y, int rows)
    {
        var key = (q8.Cols, q8.GroupSize);
        if (!_q8Inputs.TryGetValue(key, out var inputs))
            _q8Inputs[key] = inputs = Enumerable.Range(0, ChunkCapacity).Select(_ => q8.CreateInputVector()).ToArray();
        for (int t = 0; t < m; t++)
            inputs[t].Quantize(new ReadOnlySpan<float>(x + (long)t * q8.Cols, q8.Cols));
        _q8Projection.Matrix = q8;
        _q8Projection.Inputs = inputs;
        _q8Projection.Tokens = m;
        _q8Projection.Y = y;
        _q8Projection.YStride = rows;
        RunRows(_q8Projection, rows, m);
    }

    /// <summary>Logits of chunk tokens first..first+count-1 into <paramref name="logits"/> (row-major).</summary>
    private void Classify(int first, int count, Span<float> logits)
    {
        fixed (float* x = &_x[first * _c.Dim], y = logits)
            Project(_model.Classifier, x, count, y, _c.VocabSize);
    }

    private static float[] Pinned(int length) => GC.AllocateUninitializedArray<float>(length, pinned: true);
}
