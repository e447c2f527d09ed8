using System.Buffers.Binary;
using System.Runtime.InteropServices;

namespace MlPipelines.ManagedEngine.Formats.Gguf;

// Parsing and validation of the header, in the order the bytes come.
public sealed unsafe partial class GgufFile
{
    // The fewest bytes a metadata pair can take: key length (8) + a 1-byte key + value type (4) + a 1-byte value.
    private const int MinKeyValueBytes = 8 + 1 + 4 + 1;

    // The fewest bytes a tensor info can take: name length (8) + a 1-byte name + n_dims (4) + one ne (8) + type (4) + offset (8).
    private const int MinTensorInfoBytes = 8 + 1 + 4 + 8 + 4 + 8;

    private static GgufFile Read(MappedFile mapped, string path)
    {
        var r = new GgufHeaderReader(mapped.Pointer, mapped.Length, path);

        ReadOnlySpan<byte> magic = r.Take(4, "the magic 'GGUF'");
        if (!magic.SequenceEqual(MagicBytes))
            throw r.Error($"the magic is 0x{BinaryPrimitives.ReadUInt32BigEndian(magic):X8}; expected 'GGUF' (0x47475546): this is not a GGUF file");
        uint version = ReadVersion(r);

        ulong tensorCount = r.U64("tensor_count");
        ulong kvCount = r.U64("metadata_kv_count");
        int kvs = r.CheckCount(kvCount, MinKeyValueBytes, "metadata_kv_count", 16);
        // The tensor infos come after the metadata, so this bound is loose; it still rejects absurd counts at once.
        int tensors = r.CheckCount(tensorCount, MinTensorInfoBytes, "tensor_count", 8);

        // Collections grow as entries are actually read (each consumes file bytes) rather than being
        // sized up front from the counts, so memory follows the file's content, not its claims.
        var metadata = new Dictionary<string, object>(StringComparer.Ordinal);
        for (int i = 0; i < kvs; i++)
        {
            long at = r.Position;
            string key = r.String($"metadata key {i}", MaxKeyBytes);
            if (key.Length == 0) throw r.Error($"metadata key {i} at byte {at} is empty");
            if (metadata.ContainsKey(key)) throw r.Error($"metadata key '{key}' at byte {at} appears twice");
            long typeAt = r.Position;
            uint type = r.U32($"metadata '{key}' value type");
            metadata.Add(key, ReadValue(r, type, $"metadata '{key}'", typeAt, depth: 0));
        }

        int alignment = ReadAlignment(metadata, path);
        var infos = ReadTensorInfos(r, tensors, alignment);

        long dataOffset = AlignUp(r.Position, alignment);
        CheckTensorData(r, infos, dataOffset);
        return new GgufFile(mapped, path, version, alignment, dataOffset, metadata, infos);
    }

    private static uint ReadVersion(GgufHeaderReader r)
    {
        uint version = r.U32("version");
        if (version is 2 or 3) return version;
        if (version == 1)
            throw new NotSupportedException($"{r.Path}: GGUF version 1 (the 2023 draft with 32-bit counts and lengths) is not supported; " +
                "re-convert the model with a current llama.cpp to get version 3.");
        if ((version & 0xFFFF) == 0 && BinaryPrimitives.ReverseEndianness(version) is 2 or 3)
            throw new NotSupportedException($"{r.Path}: this is a big-endian GGUF file (version {BinaryPrimitives.ReverseEndianness(version)} " +
                "stored byte-swapped); only little-endian GGUF files are supported.");
        throw r.Error($"version is {version}; expected 2 or 3");
    }

    private static object ReadValue(GgufHeaderReader r, uint type, string what, long at, int depth) => (GgufValueType)type switch
    {
        GgufValueType.UInt8 => r.U8(what),
        GgufValueType.Int8 => (sbyte)r.U8(what),
        GgufValueType.UInt16 => r.U16(what),
        GgufValueType.Int16 => (short)r.U16(what),
        GgufValueType.UInt32 => r.U32(what),
        GgufValueType.Int32 => (int)r.U32(what),
        GgufValueType.Float32 => r.F32(what),
        GgufValueType.Bool => r.Bool(what),
        GgufValueType.String => r.String(what, MaxStringBytes),
        GgufValueType.Array => ReadArray(r, what, depth + 1),
        GgufValueType.UInt64 => r.U64(what),
        GgufValueType.Int64 => (long)r.U64(what),
        GgufValueType.Float64 => r.F64(what),
        _ => throw r.Error($"{what} has unknown value type {type} at byte {at}; expected 0 to 12 (UINT8 … FLOAT64)"),
    };

    private static object ReadArray(GgufHeaderReader r, string what, int depth)
    {
        long typeAt = r.Position;
        uint element = r.U32(what + " array element type");
        if (element > (uint)GgufValueType.Float64)
            throw r.Error($"{what} is an array of unknown value type {element} at byte {typeAt}; expected 0 to 12 (UINT8 … FLOAT64)");
        if (element == (uint)GgufValueType.Array && depth >= MaxArrayDepth)
            throw r.Error($"{what} nests arrays more than {MaxArrayDepth} deep (at byte {typeAt})");
        long countAt = r.Position;
        int count = r.CheckCount(r.U64(what + " array count"), MinValueBytes((GgufValueType)element), what + " array count", countAt);

        switch ((GgufValueType)element)
        {
            case GgufValueType.UInt8: return Block<byte>(r, count, what);
            case GgufValueType.Int8: return Block<sbyte>(r, count, what);
            case GgufValueType.UInt16: return Block<ushort>(r, count, what);
            case GgufValueType.Int16: return Block<short>(r, count, what);
            case GgufValueType.UInt32: return Block<uint>(r, count, what);
            case GgufValueType.Int32: return Block<int>(r, count, what);
            case GgufValueType.Float32: return Block<float>(r, count, what);
            case GgufValueType.UInt64: return Block<ulong>(r, count, what);
            case GgufValueType.Int64: return Block<long>(r, count, what);
            case GgufValueType.Float64: return Block<double>(r, count, what);
            case GgufValueType.Bool:
                var bools = new bool[count];
                for (int i = 0; i < count; i++) bools[i] = r.Bool($"{what}[{i}]");
                return bools;
            case GgufValueType.String:
                var strings = new string[count];
                for (int i = 0; i < count; i++) strings[i] = r.String($"{what}[{i}]", MaxStringBytes);
                return strings;
            default:
                var arrays = new object[count];
                for (int i = 0; i < count; i++) arrays[i] = ReadArray(r, $"{what}[{i}]", depth + 1);
                return arrays;
        }
    }

    /// <summary>Fixed-size elements copied in one go (the file and the machine are both little-endian).</summary>
    private static T[] Block<T>(GgufHeaderReader r, int count, string what) where T : unmanaged
    {
        long bytes = (long)count * sizeof(T);
        if (bytes > int.MaxValue)
            throw r.Error($"{what} is an array of {bytes} bytes; at most {int.MaxValue} bytes per array are supported");
        return MemoryMarshal.Cast<byte, T>(r.Take(bytes, what)).ToArray();
    }

    private static int MinValueBytes(GgufValueType type) => type switch
    {
        GgufValueType.UInt8 or GgufValueType.Int8 or GgufValueType.Bool => 1,
        GgufValueType.UInt16 or GgufValueType.Int16 => 2,
        GgufValueType.UInt32 or GgufValueType.Int32 or GgufValueType.Float32 => 4,
        GgufValueType.String => 8,  // the length, for an empty string
        GgufValueType.Array => 12,  // element type and count, for an empty array
        _ => 8,
    };

    private static int ReadAlignment(Dictionary<string, object> metadata, string path)
    {
        if (!metadata.TryGetValue("general.alignment", out object? value)) return DefaultAlignment;
        if (!TryAsInteger(value, out long alignment))
            throw new InvalidDataException($"{path}: metadata 'general.alignment' has type {TypeName(value)}; expected an integer (UINT32)");
        if (alignment <= 0 || alignment > 1 << 30 || (alignment & (alignment - 1)) != 0)
            throw new InvalidDataException($"{path}: metadata 'general.alignment' is {alignment}; expected a power of two between 1 and {1 << 30}");
        return (int)alignment;
    }

    private static List<GgufTensorInfo> ReadTensorInfos(GgufHeaderReader r, int count, int alignment)
    {
        var infos = new List<GgufTensorInfo>();
        var names = new HashSet<string>(StringComparer.Ordinal);
        for (int i = 0; i < count; i++)
        {
            long at = r.Position;
            string name = r.String($"tensor {i} name", MaxTensorNameBytes);
            if (name.Length == 0) throw r.Error($"tensor {i} at byte {at} has an empty name");
            if (!names.Add(name)) throw r.Error($"tensor name '{name}' at byte {at} appears twice");

            uint nDims = r.U32($"tensor '{name}' n_dims");
            if (nDims is 0 or > MaxDimensions)
                throw r.Error($"tensor '{name}' has n_dims = {nDims}; expected 1 to {MaxDimensions}");
            var dims = new long[nDims];
            long elements = 1;
            for (int d = 0; d < dims.Length; d++)
            {
                ulong ne = r.U64($"tensor '{name}' ne[{d}]");
                if (ne == 0) throw r.Error($"tensor '{name}' has ne[{d}] = 0; every dimension must be at least 1");
                if (ne > long.MaxValue || elements > long.MaxValue / (long)ne)
                    throw r.Error($"tensor '{name}' has ne[{d}] = {ne}, which makes its element count overflow 64 bits");
                dims[d] = (long)ne;
                elements *= (long)ne;
            }

            uint type = r.U32($"tensor '{name}' type");
            if (!GgufTensorTypes.TryGetLayout(type, out int blockSize, out int blockBytes))
                throw r.Error($"tensor '{name}' has unknown ggml type {type}; expected one of the types in ggml.h " +
                    $"(F32 = 0, F16 = 1, Q8_0 = 8, BF16 = 30, …)");
            if (dims[0] % blockSize != 0)
                throw r.Error($"tensor '{name}' of type {(GgufTensorType)type} has ne[0] = {dims[0]}, which is not a multiple of its block size {blockSize}");
            long blocks = elements / blockSize;
            if (blocks > long.MaxValue / blockBytes)
                throw r.Error($"tensor '{name}' ({string.Join(" x ", dims)} {(GgufTensorType)type}) has a byte size that overflows 64 bits");

            ulong offset = r.U64($"tensor '{name}' offset");
            if (offset % (ulong)alignment != 0)
                throw r.Error($"tensor '{name}' has offset {offset}, which is not a multiple of the alignment {alignment}");
            if (offset > long.MaxValue)
                throw r.Error($"tensor '{name}' has offset {offset}, beyond any file");
            infos.Add(new GgufTensorInfo(name, dims, (GgufTensorType)type, (long)offset, elements, blocks * blockBytes));
        }
        return infos;
    }

    /// <summary>Every tensor's bytes must lie inside the data section, and no two may share a byte.</summary>
    private static void CheckTensorData(GgufHeaderReader r, List<GgufTensorInfo> tensors, long dataOffset)
    {
        if (tensors.Count == 0) return; // a vocabulary-only file may end right after its header
        long dataBytes = r.Length - dataOffset;
        if (dataBytes < 0)
            throw r.Error($"the data section should start at byte {dataOffset} (the header ends at byte {r.Position}, padded to the alignment), " +
                $"beyond the end of the file ({r.Length} bytes); the file is truncated");
        foreach (GgufTensorInfo t in tensors)
        {
            if (t.Offset >= dataBytes)
                throw r.Error($"tensor '{t.Name}' has offset {t.Offset}, outside the data section of {dataBytes} bytes " +
                    $"(bytes {dataOffset} to {r.Length} of the file)");
            if (t.ByteLength > dataBytes - t.Offset)
                throw r.Error($"tensor '{t.Name}' ({t.Type}, {t.Shape}) needs bytes {t.Offset} to {t.Offset + t.ByteLength} of the data section, " +
                    $"but it holds {dataBytes} bytes; the file is truncated or the tensor's shape is wrong");
        }
        var byOffset = tensors.OrderBy(t => t.Offset).ToList();
        for (int i = 1; i < byOffset.Count; i++)
        {
            GgufTensorInfo previous = byOffset[i - 1], current = byOffset[i];
            if (current.Offset < previous.Offset + previous.ByteLength)
                throw r.Error($"tensors '{previous.Name}' (data bytes {previous.Offset} to {previous.Offset + previous.ByteLength}) and " +
                    $"'{current.Name}' (from byte {current.Offset}) overlap");
        }
    }

    private static long AlignUp(long position, int alignment) => (position + alignment - 1) & ~((long)alignment - 1);
}
