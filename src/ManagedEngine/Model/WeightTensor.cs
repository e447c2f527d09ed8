namespace MlPipelines.ManagedEngine.Model;

/// <summary>
/// A read-only view of fp32 weights that live in memory owned elsewhere (a memory-mapped
/// checkpoint or a pinned buffer). It is a pointer and a length, so weights are never copied;
/// the owner (see <see cref="LlamaWeights"/>) keeps the memory alive.
/// </summary>
public readonly unsafe struct WeightTensor
{
    private readonly float* _data;

    /// <summary>Creates a view of <paramref name="length"/> floats starting at <paramref name="data"/>.</summary>
    public WeightTensor(float* data, int length)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(length);
        _data = data;
        Length = length;
    }

    /// <summary>Number of floats in the tensor.</summary>
    public int Length { get; }

    /// <summary>The first weight (the memory stays valid while the owner lives).</summary>
    internal float* Pointer => _data;

    /// <summary>The weights as a writable span, for code that fills memory it allocated itself.</summary>
    internal Span<float> MutableSpan() => new(_data, Length);

    /// <summary>The weights as a span.</summary>
    public ReadOnlySpan<float> Span => new(_data, Length);

    /// <summary>A sub-range of the tensor (for example one row of a matrix).</summary>
    public WeightTensor Slice(int start, int length)
    {
        if ((uint)start > (uint)Length || (uint)length > (uint)(Length - start))
            throw new ArgumentOutOfRangeException(nameof(start), $"Slice [{start}, {start + length}) is outside a tensor of {Length} floats.");
        return new WeightTensor(_data + start, length);
    }
}
