namespace MlPipelines.ManagedEngine.Formats.Safetensors;

/// <summary>
/// One tensor entry of a safetensors header, already validated: its byte range lies inside the data
/// section and holds exactly <c>product(Shape) * DType.Size()</c> bytes.
/// </summary>
/// <param name="Name">The tensor's name in the header.</param>
/// <param name="DType">Its element type.</param>
/// <param name="Shape">Its dimensions, outermost first (row-major).</param>
/// <param name="Begin">First byte, counted from the start of the data section.</param>
/// <param name="End">One past the last byte, counted from the start of the data section.</param>
internal sealed record SafetensorsTensor(string Name, SafetensorsDType DType, IReadOnlyList<long> Shape, long Begin, long End)
{
    /// <summary>Bytes the tensor occupies.</summary>
    public long ByteLength => End - Begin;

    /// <summary>Number of elements (the product of <see cref="Shape"/>).</summary>
    public long ElementCount => ByteLength / DType.Size();

    /// <summary>The shape as the header writes it, e.g. <c>[64, 172]</c>, for messages.</summary>
    public string ShapeText => FormatShape(Shape);

    /// <summary>Formats a shape as <c>[a, b, ...]</c>.</summary>
    public static string FormatShape(IEnumerable<long> shape) => "[" + string.Join(", ", shape) + "]";
}
