using System.Runtime.InteropServices;
using MlPipelines.ManagedEngine.Model;

namespace MlPipelines.Exporter.Graph;

/// <summary>
/// Where an initializer's bytes come from: a view of fp32 weights (memory-mapped, never copied)
/// or a small managed buffer (constants, RoPE tables). The writer decides later whether the
/// bytes go into the model file or the external-data file, so the graph builder never touches them.
/// </summary>
internal readonly struct InitializerData
{
    private readonly WeightTensor _weights;
    private readonly byte[]? _bytes;

    private InitializerData(WeightTensor weights, byte[]? bytes)
    {
        _weights = weights;
        _bytes = bytes;
    }

    /// <summary>Bytes of the fp32 weight view (little-endian as stored in memory).</summary>
    public static InitializerData From(WeightTensor weights) => new(weights, null);

    /// <summary>Bytes owned by a managed array.</summary>
    public static InitializerData From(byte[] bytes) => new(default, bytes);

    /// <summary>True when the bytes are a weight view (the candidates for external data).</summary>
    public bool IsWeights => _bytes is null;

    /// <summary>Number of bytes.</summary>
    public long ByteLength => _bytes?.Length ?? (long)_weights.Length * sizeof(float);

    /// <summary>The managed buffer (only when <see cref="IsWeights"/> is false).</summary>
    public byte[]? Bytes => _bytes;

    /// <summary>The weight view (only when <see cref="IsWeights"/> is true).</summary>
    public WeightTensor Weights => _weights;

    /// <summary>Writes the bytes to <paramref name="stream"/> in chunks (a tensor may exceed 2 GB of bytes).</summary>
    public void WriteTo(Stream stream, CancellationToken cancellationToken)
    {
        if (_bytes is not null)
        {
            stream.Write(_bytes);
            return;
        }
        const int chunkFloats = 1 << 24;   // 64 MB per write keeps cancellation responsive
        ReadOnlySpan<float> all = _weights.Span;
        for (int start = 0; start < all.Length; start += chunkFloats)
        {
            cancellationToken.ThrowIfCancellationRequested();
            stream.Write(MemoryMarshal.AsBytes(all.Slice(start, Math.Min(chunkFloats, all.Length - start))));
        }
    }
}
