using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;
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
/// The portable graph's tensors change shape every step (the past grows by the chunk), and an <see cref="OrtValue"/>
/// has a fixed shape, so each run still creates one small <see cref="OrtValue"/> handle per bound tensor: that is
/// the only managed allocation per step, independent of the sequence length and the vocabulary. A graph whose attention
/// shares one KV buffer between past and present (<see cref="OnnxDecoderContract.SharedKvBuffer"/>: the fused profile,
/// onnxruntime-genai builder graphs) binds that fixed-size buffer (<see cref="SharedKvCache"/>) to both, and only the
/// token, mask and output handles remain per step.
/// </remarks>
internal sealed class OnnxModelSession : IModelSession
{
    private readonly OnnxLanguageModel _model;
    private readonly ModelConfig _c;
    private readonly OrtIoBinding _binding;
    private readonly RunOptions _runOptions = new();
    private readonly OrtMemoryInfo _cpu = OrtMemoryInfo.DefaultInstance;
    private readonly KvCacheBuffers? _kv;
    private readonly SharedKvCache? _shared;
    private readonly long[] _ids, _positions, _ones;
    // use_cache_branch's two values, pinned: a view of one or the other is bound each run.
    private readonly bool[] _cacheBranch = GC.AllocateArray<bool>(2, pinned: true);
    private readonly int[] _ones32 = [], _seqlensK = GC.AllocateArray<int>(1, pinned: true), _totalLength = GC.AllocateArray<int>(1, pinned: true);
    private readonly long[] _tokensShape = [1, 0], _maskShape = [1, 0], _kvShape, _outShape = [1, 0, 0], _lengthsShape = [1], _totalShape;
    private float[] _logits = [], _hidden = [];
    private readonly List<OrtValue> _bound = [], _kept = [];
    private (int, int, bool, bool, float[], float[], nint) _sharedKey;
    private bool _disposed;

    public OnnxModelSession(OnnxLanguageModel model)
    {
        _model = model;
        _c = model.Config;
        _binding = model.Session.CreateIoBinding();
        int width = model.KvHeadWidth;
        if (model.Contract.SharedKvBuffer)
            _shared = new SharedKvCache(2 * _c.LayerCount, _c.KvHeadCount, width, _c.MaxSequenceLength);
        else
            _kv = new KvCacheBuffers(2 * _c.LayerCount, _c.KvHeadCount, width, _c.MaxSequenceLength);
        _kvShape = [1, _c.KvHeadCount, 0, width];
        _totalShape = model.TotalLengthIsScalar ? [] : [1];
        _ids = GC.AllocateArray<long>(_c.MaxSequenceLength, pinned: true);
        _positions = GC.AllocateArray<long>(_c.MaxSequenceLength, pinned: true);
        _ones = GC.AllocateArray<long>(_c.MaxSequenceLength, pinned: true);
        Array.Fill(_ones, 1L);
        _cacheBranch[1] = true;
        if (model.Contract.AttentionMaskType == TensorElementType.Int32)
        {
            _ones32 = GC.AllocateArray<int>(_c.MaxSequenceLength, pinned: true);
            Array.Fill(_ones32, 1);
        }
    }

    public ModelConfig Config => _c;

    public int Position { get; private set; }

    public unsafe void Forward(ReadOnlySpan<int> tokens, int position, Span<float> logits, Span<float> hiddenStates = default)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        int n = tokens.Length, vocab = _c.VocabSize, total = position + n;
        ForwardArguments.Check(_c, tokens, position, Position, logits.Length, hiddenStates.Length);
        if (!hiddenStates.IsEmpty && !_model.Contract.HasLastHiddenState)
            throw NoHiddenStates(_model);
        if (position < Position)
            Rewind(position);
        _kv?.EnsureCapacity(total, position);
        _shared?.EnsureCapacity(total, position);
        for (int i = 0; i < n; i++)
        {
            _ids[i] = tokens[i];
            _positions[i] = position + i;
        }
        if (!logits.IsEmpty && _logits.Length < n * vocab) _logits = GC.AllocateUninitializedArray<float>(Grow(n, _c.MaxSequenceLength) * vocab, pinned: true);
        if (!hiddenStates.IsEmpty && _hidden.Length < n * _c.Dim) _hidden = GC.AllocateUninitializedArray<float>(Grow(n, _c.MaxSequenceLength) * _c.Dim, pinned: true);

        // A shared-buffer decode step writes its logits straight into the caller's buffer (pinned for the run).
        bool direct = _shared is not null && n == 1 && !logits.IsEmpty;
        fixed (float* caller = logits)
        {
            // Binding reads the ONNX Runtime session's state too, so the model is entered before it, not just for the run.
            _model.EnterCall();
            try
            {
                if (_shared is not null)
                    BindShared(n, total, !logits.IsEmpty, !hiddenStates.IsEmpty, direct ? (nint)caller : 0);
                else
                    BindSplit(n, position, total, !logits.IsEmpty, !hiddenStates.IsEmpty);
                _model.Run(_runOptions, _binding);
            }
            finally
            {
                foreach (OrtValue value in _bound) value.Dispose();
                _bound.Clear();
                _model.ExitCall();
            }
        }
        _kv?.Swap();
        if (!logits.IsEmpty && !direct)
            (logits.Length == vocab ? _logits.AsSpan((n - 1) * vocab, vocab) : _logits.AsSpan(0, n * vocab)).CopyTo(logits);
        if (!hiddenStates.IsEmpty)
            _hidden.AsSpan(0, n * _c.Dim).CopyTo(hiddenStates);
        Position = total;
    }

    /// <summary>
    /// The portable graph: every tensor's shape changes with the position, so everything is bound afresh each run, the past
    /// from one set of buffers and the present into the other.
    /// </summary>
    private void BindSplit(int n, int position, int total, bool wantLogits, bool wantHidden)
    {
        _binding.ClearBoundInputs();
        _binding.ClearBoundOutputs();
        BindTokens(n, Bind);
        BindMask(position, total);
        for (int l = 0; l < _c.LayerCount; l++)
        {
            _kvShape[2] = position;
            _binding.BindInput(PastKey(l), Bind(_kv!.Past(2 * l).AsMemory(0, _kv.Length(position)), _kvShape));
            _binding.BindInput(PastValue(l), Bind(_kv.Past(2 * l + 1).AsMemory(0, _kv.Length(position)), _kvShape));
            _kvShape[2] = total;
            _binding.BindOutput(PresentKey(l), Bind(_kv.Present(2 * l).AsMemory(0, _kv.Length(total)), _kvShape));
            _binding.BindOutput(PresentValue(l), Bind(_kv.Present(2 * l + 1).AsMemory(0, _kv.Length(total)), _kvShape));
        }
        BindOutputs(n, wantLogits, wantHidden, Bind);
    }

    /// <summary>
    /// A shared-buffer graph: the KV buffers, the token ids and the outputs keep their shapes while the chunk length stays
    /// the same (every decode step), so they stay bound from run to run — their contents change in place — and only the
    /// attention mask, whose width is the position, is bound anew. Binding a name again replaces its value.
    /// </summary>
    /// <param name="n">Tokens in this run.</param>
    /// <param name="total">Positions after it (the mask's width).</param>
    /// <param name="wantLogits">Whether logits are asked for.</param>
    /// <param name="wantHidden">Whether hidden states are asked for.</param>
    /// <param name="directLogits">The caller's logits buffer, pinned for this run, to bind as the output (one token's
    /// logits); 0 to use the session's own. A caller passing the same array each step keeps the same address (arrays move
    /// rarely), so the binding stays; a new address is bound anew before the run.</param>
    private void BindShared(int n, int total, bool wantLogits, bool wantHidden, nint directLogits)
    {
        var key = (n, _shared!.Capacity, wantLogits, wantHidden, _logits, _hidden, directLogits);
        if (key != _sharedKey)
        {
            _binding.ClearBoundInputs();
            _binding.ClearBoundOutputs();
            ReleaseKept();
            BindTokens(n, Keep);
            for (int l = 0; l < _c.LayerCount; l++)
            {
                // One buffer per tensor, bound as both: the graph's attention writes the new rows in place.
                _binding.BindInput(PastKey(l), _shared.Value(2 * l));
                _binding.BindInput(PastValue(l), _shared.Value(2 * l + 1));
                _binding.BindOutput(PresentKey(l), _shared.Value(2 * l));
                _binding.BindOutput(PresentValue(l), _shared.Value(2 * l + 1));
            }
            BindOutputs(n, wantLogits && directLogits == 0, wantHidden, Keep);
            if (directLogits != 0)
            {
                OrtValue value = OrtValue.CreateTensorValueWithData(_cpu, TensorElementType.Float,
                    [1, 1, _c.VocabSize], directLogits, (long)_c.VocabSize * sizeof(float));
                _kept.Add(value);
                _binding.BindOutput(Logits, value);
            }
            _sharedKey = key;
        }
        BindMask(total - n, total);
    }

    private void BindTokens(int n, Func<Memory<long>, long[], OrtValue> bind)
    {
        _tokensShape[1] = n;
        _binding.BindInput(InputIds, bind(_ids.AsMemory(0, n), _tokensShape));
        if (_model.Contract.HasPositionIds)
            _binding.BindInput(PositionIds, bind(_positions.AsMemory(0, n), _tokensShape));
    }

    // Everything whose value follows the position: the mask (its width), the builder graphs' lengths, and a merged
    // decoder's use_cache_branch (whether there is a past to read).
    private void BindMask(int position, int total)
    {
        _maskShape[1] = total;
        if (_ones32.Length > 0)
            _binding.BindInput(AttentionMask, Bind(_ones32.AsMemory(0, total), _maskShape));
        else
            _binding.BindInput(AttentionMask, Bind(_ones.AsMemory(0, total), _maskShape));
        if (_model.Contract.HasSequenceLengthInputs)
        {
            _seqlensK[0] = total - 1;
            _totalLength[0] = total;
            _binding.BindInput(OnnxDecoderContract.SequenceLengthsInput, Bind(_seqlensK.AsMemory(), _lengthsShape));
            _binding.BindInput(OnnxDecoderContract.TotalSequenceLengthInput, Bind(_totalLength.AsMemory(), _totalShape));
        }
        if (_model.Contract.HasUseCacheBranch)
            _binding.BindInput(OnnxDecoderContract.UseCacheBranchInput, Bind(_cacheBranch.AsMemory(position > 0 ? 1 : 0, 1), _lengthsShape));
    }

    // Only requested outputs are bound, so ONNX Runtime skips e.g. the classifier for embeddings.
    private void BindOutputs(int n, bool wantLogits, bool wantHidden, Func<Memory<float>, long[], OrtValue> bind)
    {
        _outShape[1] = n;
        if (wantLogits)
        {
            _outShape[2] = _c.VocabSize;
            _binding.BindOutput(Logits, bind(_logits.AsMemory(0, n * _c.VocabSize), _outShape));
        }
        if (wantHidden)
        {
            _outShape[2] = _c.Dim;
            _binding.BindOutput(LastHiddenState, bind(_hidden.AsMemory(0, n * _c.Dim), _outShape));
        }
    }

    /// <summary>The error for asking a logits-only graph for hidden states.</summary>
    internal static NotSupportedException NoHiddenStates(OnnxLanguageModel model) =>
        new($"The ONNX model in '{model.Directory}' has no '{LastHiddenState}' output ({model.Contract}), so it gives logits but no hidden states or embeddings.");

    public void Rewind(int position)
    {
        if (position < 0 || position > Position)
            throw new ArgumentOutOfRangeException(nameof(position), $"Cannot rewind to {position}: the cache holds {Position} positions.");
        if (position == Position) return;
        _kv?.Truncate(Position, position);   // a shared buffer keeps its rows: later runs overwrite them
        Position = position;
    }

    public void Reset() => Rewind(0);

    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        _binding.Dispose();
        _runOptions.Dispose();
        ReleaseKept();
        _shared?.Dispose();
    }

    // A view of a buffer with this run's shape (ONNX Runtime copies the shape); disposed after the run.
    private OrtValue Bind<T>(Memory<T> memory, long[] shape) where T : unmanaged
    {
        OrtValue value = View(memory, shape);
        _bound.Add(value);
        return value;
    }

    // Every buffer this session binds is allocated pinned (GC.AllocateArray(pinned: true)), so a view is made from its
    // address: no pin handle to take and release per step (a third of the cost of binding the mask each decode step).
    private unsafe OrtValue View<T>(Memory<T> memory, long[] shape) where T : unmanaged
    {
        var type = typeof(T) == typeof(float) ? TensorElementType.Float
            : typeof(T) == typeof(long) ? TensorElementType.Int64
            : typeof(T) == typeof(int) ? TensorElementType.Int32
            : typeof(T) == typeof(bool) ? TensorElementType.Bool
            : throw new NotSupportedException($"No tensor type for {typeof(T).Name}.");
        nint address = (nint)Unsafe.AsPointer(ref MemoryMarshal.GetReference(memory.Span));
        return OrtValue.CreateTensorValueWithData(_cpu, type, shape, address, (long)memory.Length * sizeof(T));
    }

    // A view that stays bound across runs (shared-buffer graphs); released when the binding is rebuilt.
    private OrtValue Keep<T>(Memory<T> memory, long[] shape) where T : unmanaged
    {
        OrtValue value = View(memory, shape);
        _kept.Add(value);
        return value;
    }

    private void ReleaseKept()
    {
        foreach (OrtValue value in _kept) value.Dispose();
        _kept.Clear();
    }

    // Output buffers sized for the chunk, grown by doubling (at most the context).
    private static int Grow(int needed, int max)
    {
        int size = 16;
        while (size < needed) size *= 2;
        return Math.Min(size, Math.Max(needed, max));
    }
}
