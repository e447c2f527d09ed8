using System.Buffers;
using MlPipelines.ManagedEngine.Model;

namespace MlPipelines.Exporter.Graph;

/// <summary>
/// A <see cref="Memory{T}"/> over weights that live outside the managed heap (a memory-mapped
/// checkpoint), so protobuf can serialise them as <c>raw_data</c> straight from the mapping
/// (<c>UnsafeByteOperations.UnsafeWrap</c>) without copying them into arrays first.
/// The owner of the weights must outlive every use of the memory.
/// </summary>
internal sealed unsafe class UnmanagedMemory : MemoryManager<byte>
{
    private readonly byte* _pointer;
    private readonly int _length;

    private UnmanagedMemory(byte* pointer, int length)
    {
        _pointer = pointer;
        _length = length;
    }

    /// <summary>The bytes of <paramref name="weights"/> (at most 2 GB, the limit of one protobuf message anyway).</summary>
    public static ReadOnlyMemory<byte> Of(WeightTensor weights)
    {
        long bytes = (long)weights.Length * sizeof(float);
        if (bytes > int.MaxValue)
            throw new ArgumentException($"A tensor of {bytes} bytes cannot be embedded in the model file; use external data.", nameof(weights));
        // WeightTensor wraps a raw pointer into pinned or mapped memory, so its address is stable.
        fixed (float* p = weights.Span)
            return new UnmanagedMemory((byte*)p, (int)bytes).Memory;
    }

    public override Span<byte> GetSpan() => new(_pointer, _length);

    public override MemoryHandle Pin(int elementIndex = 0) => new(_pointer + elementIndex);

    public override void Unpin() { }

    protected override void Dispose(bool disposing) { }
}
