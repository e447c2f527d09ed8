namespace MlPipelines.OnnxEngine;

/// <summary>
/// The KV cache of one ONNX Runtime session in managed buffers that live as long as the session: two sets per tensor
/// (each run reads <c>past_key_values.*</c> from one set and writes <c>present.*</c> into the other, then they swap),
/// each holding <c>[1, kvHeads, positions, headDim]</c> densely at its start. Capacity grows by doubling, so a
/// sequence of decode steps allocates only O(log n) times, never per step.
/// </summary>
internal sealed class KvCacheBuffers
{
    private const int InitialPositions = 64;
    private readonly int _tensors, _rowFloats, _maxPositions;
    private float[][] _current, _next;

    public KvCacheBuffers(int tensors, int kvHeads, int headDim, int maxPositions)
    {
        _tensors = tensors;
        KvHeads = kvHeads;
        HeadDim = headDim;
        _rowFloats = kvHeads * headDim;
        _maxPositions = maxPositions;
        Capacity = Math.Min(InitialPositions, maxPositions);
        _current = Allocate(Capacity);
        _next = Allocate(Capacity);
    }

    public int KvHeads { get; }

    public int HeadDim { get; }

    /// <summary>Positions each buffer can hold.</summary>
    public int Capacity { get; private set; }

    /// <summary>The buffer holding the past of tensor <paramref name="index"/>.</summary>
    public float[] Past(int index) => _current[index];

    /// <summary>The buffer a run writes the present of tensor <paramref name="index"/> into.</summary>
    public float[] Present(int index) => _next[index];

    /// <summary>Floats of a tensor holding <paramref name="positions"/> positions.</summary>
    public int Length(int positions) => positions * _rowFloats;

    /// <summary>Makes room for <paramref name="positions"/> positions, keeping the first <paramref name="kept"/> of the past.</summary>
    public void EnsureCapacity(int positions, int kept)
    {
        if (positions <= Capacity) return;
        int capacity = Capacity;
        while (capacity < positions) capacity = Math.Min(_maxPositions, capacity * 2);
        float[][] current = Allocate(capacity);
        for (int i = 0; i < _tensors; i++)
            _current[i].AsSpan(0, Length(kept)).CopyTo(current[i]);
        _current = current;
        _next = Allocate(capacity);
        Capacity = capacity;
    }

    /// <summary>After a run: the present becomes the past.</summary>
    public void Swap() => (_current, _next) = (_next, _current);

    /// <summary>
    /// Keeps the first <paramref name="position"/> of <paramref name="held"/> positions of every head, in place: the
    /// dense layout's head stride shrinks, and each head moves towards the start, so copies never overwrite unread data.
    /// </summary>
    public void Truncate(int held, int position)
    {
        int rowsPerHead = HeadDim;
        for (int i = 0; i < _tensors; i++)
        {
            Span<float> buffer = _current[i];
            for (int h = 1; h < KvHeads; h++)
                buffer.Slice(h * held * rowsPerHead, position * rowsPerHead).CopyTo(buffer.Slice(h * position * rowsPerHead));
        }
    }

    private float[][] Allocate(int positions)
    {
        var buffers = new float[_tensors][];
        for (int i = 0; i < _tensors; i++)
            buffers[i] = GC.AllocateUninitializedArray<float>(positions * _rowFloats, pinned: true);
        return buffers;
    }
}
