namespace MlPipelines.ManagedEngine.Formats.Safetensors;

/// <summary>
/// The element types a safetensors header may name. The reader knows all of them so that it can
/// check every tensor's byte length, even of tensors the model loader will not use; which of them a
/// model may be made of is the loader's business (it computes with F32, F16 and BF16 only).
/// </summary>
internal enum SafetensorsDType
{
    Bool, U8, I8, F8E5M2, F8E4M3, I16, U16, F16, BF16, I32, U32, F32, I64, U64, F64,
}

/// <summary>Header spellings and sizes of <see cref="SafetensorsDType"/>.</summary>
internal static class SafetensorsDTypes
{
    private static readonly Dictionary<string, SafetensorsDType> ByName = new(StringComparer.Ordinal)
    {
        ["BOOL"] = SafetensorsDType.Bool,
        ["U8"] = SafetensorsDType.U8,
        ["I8"] = SafetensorsDType.I8,
        ["F8_E5M2"] = SafetensorsDType.F8E5M2,
        ["F8_E4M3"] = SafetensorsDType.F8E4M3,
        ["I16"] = SafetensorsDType.I16,
        ["U16"] = SafetensorsDType.U16,
        ["F16"] = SafetensorsDType.F16,
        ["BF16"] = SafetensorsDType.BF16,
        ["I32"] = SafetensorsDType.I32,
        ["U32"] = SafetensorsDType.U32,
        ["F32"] = SafetensorsDType.F32,
        ["I64"] = SafetensorsDType.I64,
        ["U64"] = SafetensorsDType.U64,
        ["F64"] = SafetensorsDType.F64,
    };

    /// <summary>The header spellings, for messages.</summary>
    public static string KnownNames => string.Join(", ", ByName.Keys);

    /// <summary>Parses a header dtype string (case-sensitive, as the format defines it).</summary>
    public static bool TryParse(string name, out SafetensorsDType dtype) => ByName.TryGetValue(name, out dtype);

    /// <summary>The header spelling of <paramref name="dtype"/>.</summary>
    public static string Name(this SafetensorsDType dtype) => ByName.First(p => p.Value == dtype).Key;

    /// <summary>Bytes per element.</summary>
    public static int Size(this SafetensorsDType dtype) => dtype switch
    {
        SafetensorsDType.Bool or SafetensorsDType.U8 or SafetensorsDType.I8
            or SafetensorsDType.F8E5M2 or SafetensorsDType.F8E4M3 => 1,
        SafetensorsDType.I16 or SafetensorsDType.U16 or SafetensorsDType.F16 or SafetensorsDType.BF16 => 2,
        SafetensorsDType.I32 or SafetensorsDType.U32 or SafetensorsDType.F32 => 4,
        SafetensorsDType.I64 or SafetensorsDType.U64 or SafetensorsDType.F64 => 8,
        _ => throw new ArgumentOutOfRangeException(nameof(dtype)),
    };
}
