using Microsoft.ML.OnnxRuntime;
using MlPipelines.ManagedEngine.Model;
using static MlPipelines.Exporter.LlamaOnnxNames;

namespace MlPipelines.OnnxEngine;

/// <summary>
/// One sequence on the ONNX Runtime engine. The KV cache lives in buffers the session owns
/// (<see cref="KvCacheBuffers"/>): each run reads <c>past_key_values.*</c> from one set and ONNX Runtime writes
/// <c>present.*</c> straight into the other through IO binding, so the cache is never copied between runs and no
/// array is allocated per step. Inputs and outputs (ids, positions, mask, logits, hidden states) are bound over
/// buffers allocated once as well.
/// </summary>
/// <remarks>
/// The exported graph's tensors change shape every step (the past grows by the chunk), and an <see cref="OrtValue"/>
/// has a fixed shape, so each run still creates one small <see cref="OrtValue"/> handle per bound tensor: that is
/// the only managed allocation per step, independent of the sequence length and the vocabulary. A graph with a
/// fixed-size shared KV buffer would remove it.
/// </remarks>
internal sealed class OnnxModelSession : IModelSession
{
    private readonly OnnxLanguageModel _model;
    private readonly ModelConfig _c;
    private readonly OrtIoBinding _binding;
    private readonly RunOptions _runOptions = new();
    private readonly OrtMemoryInfo _cpu = OrtMemoryInfo.DefaultInstance;
    private readonly KvCacheBuffers _kv;
    private readonly long[] _ids, _positions, _ones;
    private readonly long[] _tokensShape = [1, 0], _maskShape = [1, 0], _kvShape, _outShape = [1, 0, 0];
    private float[] _logits = [], _hidden = [];
    private readonly List<OrtValue> _bound = [];
    private bool _disposed;

    public OnnxModelSession(OnnxLanguageModel model)
    {
        _model = model;
        _c = model.Config;
        _binding = model.Session.CreateIoBinding();
        _kv = new KvCacheBuffers(2 * _c.LayerCount, _c.KvHeadCount, _c.HeadDim, _c.MaxSequenceLength);
        _kvShape = [1, _c.KvHeadCount, 0, _c.HeadDim];
        _ids = GC.AllocateArray<long>(_c.MaxSequenceLength, pinned: true);
        _positions = GC.AllocateArray<long>(_c.MaxSequenceLength, pinned: true);
        _ones = GC.AllocateArray<long>(_c.MaxSequenceLength, pinned: true);
        Array.Fill(_ones, 1L);
    }

    public ModelConfig Config => _c;

    public int Position { get; private set; }

    public void Forward(ReadOnlySpan<int> tokens, int position, Span<float> logits, Span<float> hiddenStates = default)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        int n = tokens.Length, vocab = _c.VocabSize, total = position + n;
        ForwardArguments.Check(_c, tokens, position, Position, logits.Length, hiddenStates.Length);
        if (!hiddenStates.IsEmpty && !_model.Contract.HasLastHiddenState)
            throw NoHiddenStates(_model);
        if (position < Position)
            Rewind(position);
        _kv.EnsureCapacity(total, position);
        for (int i = 0; i < n; i++)
        {
            _ids[i] = tokens[i];
            _positions[i] = position + i;
        }
        if (!logits.IsEmpty && _logits.Length < n * vocab) _logits = GC.AllocateUninitializedArray<float>(Grow(n, _c.MaxSequenceLength) * vocab, pinned: true);
        if (!hiddenStates.IsEmpty && _hidden.Length < n * _c.Dim) _hidden = GC.AllocateUninitializedArray<float>(Grow(n, _c.MaxSequenceLength) * _c.Dim, pinned: true);

        try
        {
            _binding.ClearBoundInputs();
            _binding.ClearBoundOutputs();
            _tokensShape[1] = n;
            _maskShape[1] = total;
            _binding.BindInput(InputIds, Bind(_ids.AsMemory(0, n), _tokensShape));
            if (_model.Contract.HasPositionIds)
                _binding.BindInput(PositionIds, Bind(_positions.AsMemory(0, n), _tokensShape));
            _binding.BindInput(AttentionMask, Bind(_ones.AsMemory(0, total), _maskShape));
            for (int l = 0; l < _c.LayerCount; l++)
            {
                _kvShape[2] = position;
                _binding.BindInput(PastKey(l), Bind(_kv.Past(2 * l).AsMemory(0, _kv.Length(position)), _kvShape));
                _binding.BindInput(PastValue(l), Bind(_kv.Past(2 * l + 1).AsMemory(0, _kv.Length(position)), _kvShape));
                _kvShape[2] = total;
                _binding.BindOutput(PresentKey(l), Bind(_kv.Present(2 * l).AsMemory(0, _kv.Length(total)), _kvShape));
                _binding.BindOutput(PresentValue(l), Bind(_kv.Present(2 * l + 1).AsMemory(0, _kv.Length(total)), _kvShape));
            }
            // Only requested outputs are bound, so ONNX Runtime skips e.g. the classifier for embeddings.
            _outShape[1] = n;
            if (!logits.IsEmpty)
            {
                _outShape[2] = vocab;
                _binding.BindOutput(Logits, Bind(_logits.AsMemory(0, n * vocab), _outShape));
            }
            if (!hiddenStates.IsEmpty)
            {
                _outShape[2] = _c.Dim;
                _binding.BindOutput(LastHiddenState, Bind(_hidden.AsMemory(0, n * _c.Dim), _outShape));
            }
            _model.Session.RunWithBinding(_runOptions, _binding);
        }
        finally
        {
            foreach (OrtValue value in _bound) value.Dispose();
            _bound.Clear();
        }
        _kv.Swap();
        if (!logits.IsEmpty)
            (logits.Length == vocab ? _logits.AsSpan((n - 1) * vocab, vocab) : _logits.AsSpan(0, n * vocab)).CopyTo(logits);
        if (!hiddenStates.IsEmpty)
            _hidden.AsSpan(0, n * _c.Dim).CopyTo(hiddenStates);
        Position = total;
    }

    /// <summary>The error for asking a logits-only graph for hidden states.</summary>
    internal static NotSupportedException NoHiddenStates(OnnxLanguageModel model) =>
        new($"The ONNX model in '{model.Directory}' has no '{LastHiddenState}' output ({model.Contract}), so it gives logits but no hidden states or embeddings.");

    public void Rewind(int position)
    {
        if (position < 0 || position > Position)
            throw new ArgumentOutOfRangeException(nameof(position), $"Cannot rewind to {position}: the cache holds {Position} positions.");
        if (position == Position) return;
        _kv.Truncate(Position, position);
        Position = position;
    }

    public void Reset() => Rewind(0);

    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        _binding.Dispose();
        _runOptions.Dispose();
    }

    // A view of a buffer with this run's shape (ONNX Runtime copies the shape); disposed after the run.
    private OrtValue Bind<T>(Memory<T> memory, long[] shape) where T : unmanaged
    {
        OrtValue value = OrtValue.CreateTensorValueFromMemory(_cpu, memory, shape);
        _bound.Add(value);
        return value;
    }

    // Output buffers sized for the chunk, grown by doubling (at most the context).
    private static int Grow(int needed, int max)
    {
        int size = 16;
        while (size < needed) size *= 2;
        return Math.Min(size, Math.Max(needed, max));
    }
}
