using System.Text;

namespace MlPipelines.ManagedEngine.Tests.Formats.Gguf;

/// <summary>
/// A deliberately plain GGUF metadata dump for tests (BinaryReader, no validation), written from
/// gguf.md independently of the library's reader, to check what the library reports.
/// </summary>
internal static class GgufTestReader
{
    public sealed record Header(uint Version, ulong TensorCount, Dictionary<string, object> Metadata)
    {
        /// <summary>Tensor infos by name: ggml shape (innermost first), type code, offset into the data section.</summary>
        public Dictionary<string, (long[] Ne, uint Type, ulong Offset)> Tensors { get; } = new();

        /// <summary>Where the data section starts (after the infos, aligned to 32).</summary>
        public long DataStart { get; set; }
    }

    public static Header Read(string path)
    {
        using var r = new BinaryReader(File.OpenRead(path));
        if (Encoding.ASCII.GetString(r.ReadBytes(4)) != "GGUF") throw new InvalidDataException("not GGUF");
        uint version = r.ReadUInt32();
        ulong tensors = r.ReadUInt64();
        ulong kvs = r.ReadUInt64();
        var metadata = new Dictionary<string, object>();
        for (ulong i = 0; i < kvs; i++)
        {
            string key = ReadString(r);
            metadata[key] = ReadValue(r, r.ReadUInt32());
        }
        var header = new Header(version, tensors, metadata);
        for (ulong i = 0; i < tensors; i++)
        {
            string name = ReadString(r);
            var ne = new long[r.ReadUInt32()];
            for (int d = 0; d < ne.Length; d++) ne[d] = (long)r.ReadUInt64();
            header.Tensors[name] = (ne, r.ReadUInt32(), r.ReadUInt64());
        }
        header.DataStart = (r.BaseStream.Position + 31) / 32 * 32;
        return header;
    }

    private static string ReadString(BinaryReader r) => Encoding.UTF8.GetString(r.ReadBytes(checked((int)r.ReadUInt64())));

    private static object ReadValue(BinaryReader r, uint type) => type switch
    {
        0 => r.ReadByte(),
        1 => r.ReadSByte(),
        2 => r.ReadUInt16(),
        3 => r.ReadInt16(),
        4 => r.ReadUInt32(),
        5 => r.ReadInt32(),
        6 => r.ReadSingle(),
        7 => r.ReadByte() != 0,
        8 => ReadString(r),
        9 => ReadArray(r),
        10 => r.ReadUInt64(),
        11 => r.ReadInt64(),
        12 => r.ReadDouble(),
        _ => throw new InvalidDataException($"type {type}"),
    };

    private static object ReadArray(BinaryReader r)
    {
        uint type = r.ReadUInt32();
        int count = checked((int)r.ReadUInt64());
        var items = new object[count];
        for (int i = 0; i < count; i++) items[i] = ReadValue(r, type);
        return type switch
        {
            4 => items.Cast<uint>().ToArray(),
            5 => items.Cast<int>().ToArray(),
            6 => items.Cast<float>().ToArray(),
            8 => items.Cast<string>().ToArray(),
            _ => items,
        };
    }
}
