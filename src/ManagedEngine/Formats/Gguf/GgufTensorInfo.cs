namespace MlPipelines.ManagedEngine.Formats.Gguf;

/// <summary>
/// One tensor's entry in a GGUF header, validated: its shape fits the file, its data lies inside
/// the data section, aligned and overlapping no other tensor.
/// </summary>
public sealed class GgufTensorInfo
{
    internal GgufTensorInfo(string name, long[] dimensions, GgufTensorType type, long offset, long elementCount, long byteLength)
    {
        Name = name;
        Dimensions = Array.AsReadOnly(dimensions);
        Type = type;
        Offset = offset;
        ElementCount = elementCount;
        ByteLength = byteLength;
    }

    /// <summary>The tensor's name, e.g. <c>blk.0.attn_q.weight</c>.</summary>
    public string Name { get; }

    /// <summary>
    /// The dimensions in ggml order: <c>ne[0]</c> first, the innermost (contiguous) one. A row-major
    /// <c>[out, in]</c> matrix is stored as <c>ne = [in, out]</c>.
    /// </summary>
    public IReadOnlyList<long> Dimensions { get; }

    /// <summary>How the elements are stored.</summary>
    public GgufTensorType Type { get; }

    /// <summary>Where the data starts, in bytes from the start of the file's data section.</summary>
    public long Offset { get; }

    /// <summary>The number of elements (the product of <see cref="Dimensions"/>).</summary>
    public long ElementCount { get; }

    /// <summary>The number of bytes the data occupies.</summary>
    public long ByteLength { get; }

    /// <summary>The shape as ggml prints it, e.g. <c>ne = [8, 32000]</c>, for messages.</summary>
    internal string Shape => $"ne = [{string.Join(", ", Dimensions)}]";

    /// <inheritdoc/>
    public override string ToString() => $"{Name} {Type} {Shape} at {Offset}";
}
