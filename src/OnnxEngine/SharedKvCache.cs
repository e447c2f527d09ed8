using Microsoft.ML.OnnxRuntime;

namespace MlPipelines.OnnxEngine;

/// <summary>
/// The KV cache of a session on a graph whose attention writes the new keys and values into its past buffer
/// (GroupQueryAttention with a shared past/present buffer): one buffer per tensor, <c>[1, kvHeads, capacity, width]</c>,
/// bound as both <c>past_key_values.*</c> and <c>present.*</c>. Positions past the sequence are simply overwritten later,
/// so rewinding moves nothing. The <see cref="OrtValue"/> views are made once per capacity, not per step; capacity grows
/// by doubling (each head's rows move to the wider stride), so a long decode reallocates O(log n) times.
/// </summary>
internal sealed class SharedKvCache : IDisposable
{
    private const int InitialPositions = 128;
    private readonly int _tensors, _kvHeads, _width, _maxPositions;
    private float[][] _buffers;
    private OrtValue[] _values;

    public SharedKvCache(int tensors, int kvHeads, int width, int maxPositions)
    {
        _tensors = tensors;
        _kvHeads = kvHeads;
        _width = width;
        _maxPositions = maxPositions;
        Capacity = Math.Min(InitialPositions, maxPositions);
        (_buffers, _values) = Allocate(Capacity);
    }

    /// <summary>Positions each buffer holds.</summary>
    public int Capacity { get; private set; }

    /// <summary>The view of tensor <paramref name="index"/> (2·layer for keys, 2·layer + 1 for values) to bind as past and present.</summary>
    public OrtValue Value(int index) => _values[index];

    /// <summary>Makes room for <paramref name="positions"/> positions, keeping the first <paramref name="kept"/>.</summary>
    public void EnsureCapacity(int positions, int kept)
    {
        if (positions <= Capacity) return;
        int capacity = Capacity;
        while (capacity < positions) capacity = Math.Min(_maxPositions, capacity * 2);
        var (buffers, values) = Allocate(capacity);
        int rows = kept * _width;
        for (int i = 0; i < _tensors; i++)
            for (int h = 0; h < _kvHeads; h++)
                _buffers[i].AsSpan(h * Capacity * _width, rows).CopyTo(buffers[i].AsSpan(h * capacity * _width));
        DisposeValues();
        (_buffers, _values, Capacity) = (buffers, values, capacity);
    }

    public void Dispose() => DisposeValues();

    private void DisposeValues()
    {
        foreach (OrtValue v in _values) v.Dispose();
    }

    private (float[][], OrtValue[]) Allocate(int capacity)
    {
        var buffers = new float[_tensors][];
        var values = new OrtValue[_tensors];
        long[] shape = [1, _kvHeads, capacity, _width];
        for (int i = 0; i < _tensors; i++)
        {
            buffers[i] = GC.AllocateArray<float>(_kvHeads * capacity * _width, pinned: true);
            values[i] = OrtValue.CreateTensorValueFromMemory(OrtMemoryInfo.DefaultInstance, buffers[i].AsMemory(), shape);
        }
        return (buffers, values);
    }
}
