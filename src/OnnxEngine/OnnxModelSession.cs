using Microsoft.ML.OnnxRuntime;
using MlPipelines.ManagedEngine.Model;
using static MlPipelines.Exporter.LlamaOnnxNames;

namespace MlPipelines.OnnxEngine;

/// <summary>
/// One sequence on the ONNX Runtime engine. The KV cache lives in <see cref="OrtValue"/>s: each run's
/// <c>present.*</c> outputs are bound as the next run's <c>past_key_values.*</c> inputs through IO
/// binding, so the cache never passes through managed arrays.
/// </summary>
internal sealed class OnnxModelSession : IModelSession
{
    private readonly OnnxLanguageModel _model;
    private readonly ModelConfig _c;
    private readonly OrtIoBinding _binding;
    private readonly RunOptions _runOptions = new();
    private readonly OrtMemoryInfo _cpu = OrtMemoryInfo.DefaultInstance;
    private readonly OrtValue[] _past;       // [2 * layers]: key, value per layer; [1, kvHeads, Position, headDim]
    private readonly long[] _ones;            // attention mask source: all positions are real tokens
    private bool _disposed;

    public OnnxModelSession(OnnxLanguageModel model)
    {
        _model = model;
        _c = model.Config;
        _binding = model.Session.CreateIoBinding();
        _past = new OrtValue[2 * _c.LayerCount];
        for (int i = 0; i < _past.Length; i++)
            _past[i] = EmptyCache();
        _ones = new long[_c.MaxSequenceLength];
        Array.Fill(_ones, 1L);
    }

    public ModelConfig Config => _c;

    public int Position { get; private set; }

    public void Forward(ReadOnlySpan<int> tokens, int position, Span<float> logits, Span<float> hiddenStates = default)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        int n = tokens.Length, vocab = _c.VocabSize;
        ForwardArguments.Check(_c, tokens, position, Position, logits.Length, hiddenStates.Length);
        if (position < Position)
            Rewind(position);

        var ids = new long[n];
        var positions = new long[n];
        for (int i = 0; i < n; i++)
        {
            ids[i] = tokens[i];
            positions[i] = position + i;
        }
        using OrtValue idsValue = OrtValue.CreateTensorValueFromMemory(ids, [1, n]);
        using OrtValue positionsValue = OrtValue.CreateTensorValueFromMemory(positions, [1, n]);
        using OrtValue maskValue = OrtValue.CreateTensorValueFromMemory(_cpu, _ones.AsMemory(0, position + n), [1, position + n]);

        _binding.ClearBoundInputs();
        _binding.ClearBoundOutputs();
        _binding.BindInput(InputIds, idsValue);
        _binding.BindInput(AttentionMask, maskValue);
        _binding.BindInput(PositionIds, positionsValue);
        for (int l = 0; l < _c.LayerCount; l++)
        {
            _binding.BindInput(PastKey(l), _past[2 * l]);
            _binding.BindInput(PastValue(l), _past[2 * l + 1]);
            _binding.BindOutputToDevice(PresentKey(l), _cpu);
            _binding.BindOutputToDevice(PresentValue(l), _cpu);
        }
        // Only requested outputs are bound, so ONNX Runtime skips e.g. the classifier for embeddings.
        if (!logits.IsEmpty) _binding.BindOutputToDevice(Logits, _cpu);
        if (!hiddenStates.IsEmpty) _binding.BindOutputToDevice(LastHiddenState, _cpu);

        _model.Session.RunWithBinding(_runOptions, _binding);
        var outputs = _binding.GetOutputValues();
        int index = 0;
        for (int i = 0; i < _past.Length; i++)
        {
            _past[i].Dispose();
            _past[i] = outputs[index++];
        }
        if (!logits.IsEmpty)
        {
            using OrtValue value = outputs[index++];
            ReadOnlySpan<float> all = value.GetTensorDataAsSpan<float>();
            (logits.Length == vocab ? all.Slice((n - 1) * vocab, vocab) : all).CopyTo(logits);
        }
        if (!hiddenStates.IsEmpty)
        {
            using OrtValue value = outputs[index++];
            value.GetTensorDataAsSpan<float>().CopyTo(hiddenStates);
        }
        Position = position + n;
    }

    public void Rewind(int position)
    {
        if (position < 0 || position > Position)
            throw new ArgumentOutOfRangeException(nameof(position), $"Cannot rewind to {position}: the cache holds {Position} positions.");
        if (position == Position) return;
        int kvHeads = _c.KvHeadCount, headDim = _c.HeadDim;
        for (int i = 0; i < _past.Length; i++)
        {
            // Keep the first `position` rows of every head: [1, kvHeads, Position, headDim] → [1, kvHeads, position, headDim].
            var kept = new float[kvHeads * position * headDim];
            ReadOnlySpan<float> source = _past[i].GetTensorDataAsSpan<float>();
            for (int h = 0; h < kvHeads; h++)
                source.Slice(h * Position * headDim, position * headDim).CopyTo(kept.AsSpan(h * position * headDim));
            _past[i].Dispose();
            _past[i] = OrtValue.CreateTensorValueFromMemory(kept, [1, kvHeads, position, headDim]);
        }
        Position = position;
    }

    public void Reset() => Rewind(0);

    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        foreach (OrtValue value in _past) value.Dispose();
        _binding.Dispose();
        _runOptions.Dispose();
    }

    private OrtValue EmptyCache() => OrtValue.CreateTensorValueFromMemory(Array.Empty<float>(), [1, _c.KvHeadCount, 0, _c.HeadDim]);
}
