using MlPipelines.ManagedEngine.Kernels;
using MlPipelines.ManagedEngine.Model;

namespace MlPipelines.ManagedEngine.Inference;

/// <summary>
/// One sequence's decoder state on the managed engine: the KV cache and the activation buffers,
/// allocated once here so that decoding allocates nothing per token. The forward pass follows
/// llama2.c's <c>forward()</c> top to bottom.
/// </summary>
public sealed class TransformerSession : IModelSession
{
    private readonly TransformerModel _model;
    private readonly LlamaWeights _w;
    private readonly ModelConfig _c;

    // Activations for the token being processed (names as in llama2.c).
    private readonly float[] _x;      // residual stream [dim]
    private readonly float[] _xb;     // normalised input / attention output [dim]
    private readonly float[] _xb2;    // projection output [dim]
    private readonly float[] _hb;     // FFN gate [hidden]
    private readonly float[] _hb2;    // FFN up [hidden]
    private readonly float[] _hbScratch; // SwiGLU scratch [hidden]
    private readonly float[] _q;      // query [dim]
    private readonly float[] _att;    // attention scores [seq]

    // KV cache, [layer][position][kvDim] flattened per layer.
    private readonly float[][] _keyCache;
    private readonly float[][] _valueCache;
    private bool _disposed;

    internal TransformerSession(TransformerModel model)
    {
        _model = model;
        _w = model.Weights;
        _c = model.Config;
        _x = new float[_c.Dim];
        _xb = new float[_c.Dim];
        _xb2 = new float[_c.Dim];
        _hb = new float[_c.HiddenDim];
        _hb2 = new float[_c.HiddenDim];
        _hbScratch = new float[_c.HiddenDim];
        _q = new float[_c.Dim];
        _att = new float[_c.MaxSequenceLength];
        long cachePerLayer = (long)_c.MaxSequenceLength * _c.KvDim;
        if (cachePerLayer > Array.MaxLength)
            throw new ArgumentException($"A KV cache of {_c.MaxSequenceLength} positions x {_c.KvDim} is too large for one layer buffer.");
        _keyCache = new float[_c.LayerCount][];
        _valueCache = new float[_c.LayerCount][];
        for (int l = 0; l < _c.LayerCount; l++)
        {
            _keyCache[l] = new float[cachePerLayer];
            _valueCache[l] = new float[cachePerLayer];
        }
    }

    /// <inheritdoc />
    public ModelConfig Config => _c;

    /// <inheritdoc />
    public int Position { get; private set; }

    /// <inheritdoc />
    public void Forward(ReadOnlySpan<int> tokens, int position, Span<float> logits, Span<float> hiddenStates = default)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        int n = tokens.Length, vocab = _c.VocabSize;
        ForwardArguments.Check(_c, tokens, position, Position, logits.Length, hiddenStates.Length);
        bool allLogits = n > 1 && logits.Length == (long)n * vocab;

        Position = position;   // writing at `position` discards anything cached after it
        for (int i = 0; i < n; i++)
        {
            ForwardToken(tokens[i], position + i);
            Position = position + i + 1;
            if (!hiddenStates.IsEmpty)
                _x.AsSpan().CopyTo(hiddenStates.Slice(i * _c.Dim, _c.Dim));
            if (allLogits)
                Classify(logits.Slice(i * vocab, vocab));
            else if (!logits.IsEmpty && i == n - 1)
                Classify(logits);
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
    public void Dispose() => _disposed = true;

    /// <summary>One token through every layer; leaves the final-normed hidden state in <c>_x</c>.</summary>
    private void ForwardToken(int token, int pos)
    {
        int dim = _c.Dim, kvDim = _c.KvDim, hidden = _c.HiddenDim, headDim = _c.HeadDim;
        Span<float> x = _x, xb = _xb, xb2 = _xb2, hb = _hb, hb2 = _hb2, q = _q;

        _w.TokenEmbedding.Span.Slice(token * dim, dim).CopyTo(x);

        for (int l = 0; l < _c.LayerCount; l++)
        {
            LayerWeights layer = _w.Layers[l];
            Span<float> keyRow = _keyCache[l].AsSpan(pos * kvDim, kvDim);
            Span<float> valueRow = _valueCache[l].AsSpan(pos * kvDim, kvDim);

            // Attention: RMSNorm, q/k/v projections (k and v straight into the cache), RoPE.
            VectorOps.RmsNorm(xb, x, layer.RmsAttention.Span, _c.NormEpsilon);
            VectorOps.MatMul(q, xb, layer.Wq.Span, dim, dim);
            VectorOps.MatMul(keyRow, xb, layer.Wk.Span, kvDim, dim);
            VectorOps.MatMul(valueRow, xb, layer.Wv.Span, kvDim, dim);
            _model.Rope.Rotate(q, pos);
            _model.Rope.Rotate(keyRow, pos);

            // Grouped-query attention: query head h reads key/value head h / groupSize.
            for (int h = 0; h < _c.HeadCount; h++)
            {
                int kvOffset = h / _c.KvGroupSize * headDim;
                Attention.Head(xb.Slice(h * headDim, headDim), q.Slice(h * headDim, headDim),
                    _keyCache[l], _valueCache[l], pos + 1, kvDim, kvOffset, _att);
            }
            VectorOps.MatMul(xb2, xb, layer.Wo.Span, dim, dim);
            VectorOps.AddInPlace(x, xb2);

            // Feed-forward: RMSNorm, SwiGLU(W1 x, W3 x), W2, residual.
            VectorOps.RmsNorm(xb, x, layer.RmsFfn.Span, _c.NormEpsilon);
            VectorOps.MatMul(hb, xb, layer.W1.Span, hidden, dim);
            VectorOps.MatMul(hb2, xb, layer.W3.Span, hidden, dim);
            VectorOps.SwiGlu(hb, hb2, _hbScratch);
            VectorOps.MatMul(xb, hb, layer.W2.Span, dim, hidden);
            VectorOps.AddInPlace(x, xb);
        }

        VectorOps.RmsNorm(x, x, _w.RmsFinal.Span, _c.NormEpsilon);
    }

    private void Classify(Span<float> logits) =>
        VectorOps.MatMul(logits, _x, _w.Classifier.Span, _c.VocabSize, _c.Dim);
}
