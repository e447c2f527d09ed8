using System.Runtime.InteropServices;
using MlPipelines.ManagedEngine.Model;

namespace MlPipelines.ManagedEngine.Formats;

/// <summary>
/// The memory behind one loaded weight set when not all of it can stay a view of a mapped file:
/// the file mappings themselves plus native fp32 buffers for tensors that had to be converted
/// (widened from F16/BF16, dequantised, or with rows reordered). Disposing frees all of it.
/// Buffers are 64-byte aligned native memory, so the GC never moves or scans them.
/// </summary>
internal sealed unsafe class WeightMemory : IDisposable
{
    private readonly List<IDisposable> _owned = [];
    private readonly List<nint> _buffers = [];
    private bool _disposed;

    /// <summary>Bytes allocated by <see cref="Allocate"/> so far (what the load cost beyond mappings).</summary>
    public long AllocatedBytes { get; private set; }

    /// <summary>Keeps <paramref name="resource"/> (typically a <see cref="MappedFile"/>) alive until disposal.</summary>
    public T Own<T>(T resource) where T : IDisposable
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        _owned.Add(resource);
        return resource;
    }

    /// <summary>Allocates an uninitialised, 64-byte aligned buffer of <paramref name="length"/> floats.</summary>
    public WeightTensor Allocate(int length)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(length);
        return new WeightTensor((float*)AllocateBytes((long)Math.Max(1, length) * sizeof(float)), length);
    }

    /// <summary>Allocates an uninitialised, 64-byte aligned buffer of <paramref name="bytes"/> bytes (a re-laid matrix).</summary>
    /// <remarks>Buffers of a huge page or more are aligned to huge pages and asked to be backed by them (<see cref="PageAdvice.PreferHugePages"/>).</remarks>
    public byte* AllocateBytes(long bytes)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(bytes);
        byte* p = PageAdvice.AllocateStreamed(checked((nuint)bytes));
        _buffers.Add((nint)p);
        AllocatedBytes += bytes;
        return p;
    }

    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        foreach (nint p in _buffers)
            NativeMemory.AlignedFree((void*)p);
        _buffers.Clear();
        for (int i = _owned.Count - 1; i >= 0; i--)
            _owned[i].Dispose();
        _owned.Clear();
    }
}
