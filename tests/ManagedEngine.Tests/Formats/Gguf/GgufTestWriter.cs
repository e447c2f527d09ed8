using System.Buffers.Binary;
using System.Text;
using MlPipelines.ManagedEngine.Formats;

namespace MlPipelines.ManagedEngine.Tests.Formats.Gguf;

/// <summary>
/// Writes GGUF bytes for tests, from the format description (gguf.md) rather than from the reader,
/// and writes exactly what it is told, so malformed files are as easy to make as valid ones:
/// any type code, any offset, any magic or version.
/// </summary>
internal sealed class GgufTestWriter
{
    /// <summary>gguf.md's value type codes, spelled out here so the test does not share the reader's enum.</summary>
    public static class Kind
    {
        public const uint UInt8 = 0, Int8 = 1, UInt16 = 2, Int16 = 3, UInt32 = 4, Int32 = 5, Float32 = 6, Bool = 7,
            String = 8, Array = 9, UInt64 = 10, Int64 = 11, Float64 = 12;
    }

    // ggml type codes.
    public const uint F32 = 0, F16 = 1, Q8_0 = 8, BF16 = 30;

    private readonly List<(string Key, uint Type, byte[] Value)> _metadata = [];
    private readonly List<TensorEntry> _tensors = [];

    private sealed record TensorEntry(string Name, long[] Ne, uint Type, byte[] Data, ulong? Offset);

    public byte[] Magic { get; set; } = "GGUF"u8.ToArray();
    public uint Version { get; set; } = 3;

    /// <summary>The padding used for the data section and for automatic offsets (not written as metadata by itself).</summary>
    public int Alignment { get; set; } = 32;

    /// <summary>When set, written as tensor_count instead of the number of tensors added.</summary>
    public ulong? TensorCountOverride { get; set; }

    /// <summary>When set, written as metadata_kv_count instead of the number of pairs added.</summary>
    public ulong? KeyValueCountOverride { get; set; }

    // ---- metadata ----

    public GgufTestWriter Raw(string key, uint type, byte[] value)
    {
        _metadata.RemoveAll(m => m.Key == key);
        _metadata.Add((key, type, value));
        return this;
    }

    /// <summary>Adds a pair even if the key is already present (for duplicate-key files).</summary>
    public GgufTestWriter Append(string key, uint type, byte[] value)
    {
        _metadata.Add((key, type, value));
        return this;
    }

    public GgufTestWriter Remove(string key)
    {
        _metadata.RemoveAll(m => m.Key == key);
        return this;
    }

    public GgufTestWriter Str(string key, string value) => Raw(key, Kind.String, StringBytes(value));
    public GgufTestWriter U32(string key, uint value) => Raw(key, Kind.UInt32, Le(value));
    public GgufTestWriter I32(string key, int value) => Raw(key, Kind.Int32, Le((uint)value));
    public GgufTestWriter U64(string key, ulong value) => Raw(key, Kind.UInt64, Le(value));
    public GgufTestWriter F32Value(string key, float value) => Raw(key, Kind.Float32, Le(BitConverter.SingleToUInt32Bits(value)));
    public GgufTestWriter BoolValue(string key, bool value) => Raw(key, Kind.Bool, [value ? (byte)1 : (byte)0]);

    public GgufTestWriter Strings(string key, IEnumerable<string> values) =>
        Raw(key, Kind.Array, ArrayBytes(Kind.String, values.Select(StringBytes).ToList()));

    public GgufTestWriter Floats(string key, IEnumerable<float> values) =>
        Raw(key, Kind.Array, ArrayBytes(Kind.Float32, values.Select(v => Le(BitConverter.SingleToUInt32Bits(v))).ToList()));

    public GgufTestWriter Ints(string key, IEnumerable<int> values) =>
        Raw(key, Kind.Array, ArrayBytes(Kind.Int32, values.Select(v => Le((uint)v)).ToList()));

    // ---- tensors ----

    /// <summary>Adds a tensor with raw data; <paramref name="offset"/> overrides the offset written (data still goes where it would).</summary>
    public GgufTestWriter RawTensor(string name, long[] ne, uint type, byte[] data, ulong? offset = null)
    {
        _tensors.Add(new TensorEntry(name, ne, type, data, offset));
        return this;
    }

    public GgufTestWriter Tensor(string name, long[] ne, uint type, ReadOnlySpan<float> values) =>
        RawTensor(name, ne, type, Encode(values, type));

    public GgufTestWriter RemoveTensor(string name)
    {
        _tensors.RemoveAll(t => t.Name == name);
        return this;
    }

    /// <summary>Changes what the tensor info of <paramref name="name"/> says (its data stays as written).</summary>
    public GgufTestWriter EditTensor(string name, long[]? ne = null, uint? type = null, ulong? offset = null, string? newName = null)
    {
        int i = _tensors.FindIndex(t => t.Name == name);
        if (i < 0) throw new ArgumentException($"no tensor {name}");
        TensorEntry t = _tensors[i];
        _tensors[i] = t with { Ne = ne ?? t.Ne, Type = type ?? t.Type, Offset = offset ?? t.Offset, Name = newName ?? t.Name };
        return this;
    }

    // ---- output ----

    public byte[] ToArray()
    {
        using var stream = new MemoryStream();
        var w = new BinaryWriter(stream);
        w.Write(Magic);
        w.Write(Version);
        w.Write(TensorCountOverride ?? (ulong)_tensors.Count);
        w.Write(KeyValueCountOverride ?? (ulong)_metadata.Count);
        foreach (var (key, type, value) in _metadata)
        {
            w.Write(StringBytes(key));
            w.Write(type);
            w.Write(value);
        }

        // Natural offsets: each tensor after the previous one, padded to the alignment.
        var offsets = new long[_tensors.Count];
        long next = 0;
        for (int i = 0; i < _tensors.Count; i++)
        {
            offsets[i] = next;
            next = Pad(next + _tensors[i].Data.Length);
        }
        for (int i = 0; i < _tensors.Count; i++)
        {
            TensorEntry t = _tensors[i];
            w.Write(StringBytes(t.Name));
            w.Write((uint)t.Ne.Length);
            foreach (long ne in t.Ne) w.Write((ulong)ne);
            w.Write(t.Type);
            w.Write(t.Offset ?? (ulong)offsets[i]);
        }
        w.Flush();
        if (_tensors.Count == 0) return stream.ToArray();

        long dataStart = Pad(stream.Length);
        stream.SetLength(dataStart);
        stream.Position = dataStart;
        for (int i = 0; i < _tensors.Count; i++)
        {
            stream.Position = dataStart + offsets[i];
            stream.Write(_tensors[i].Data);
        }
        return stream.ToArray();
    }

    public string WriteTo(string path)
    {
        File.WriteAllBytes(path, ToArray());
        return path;
    }

    private long Pad(long position) => (position + Alignment - 1) / Alignment * Alignment;

    // ---- encodings ----

    public static byte[] StringBytes(string s)
    {
        byte[] utf8 = Encoding.UTF8.GetBytes(s);
        return [.. Le((ulong)utf8.Length), .. utf8];
    }

    public static byte[] ArrayBytes(uint elementType, IReadOnlyList<byte[]> elements) =>
        [.. Le(elementType), .. Le((ulong)elements.Count), .. elements.SelectMany(e => e)];

    public static byte[] Le(uint v)
    {
        var b = new byte[4];
        BinaryPrimitives.WriteUInt32LittleEndian(b, v);
        return b;
    }

    public static byte[] Le(ulong v)
    {
        var b = new byte[8];
        BinaryPrimitives.WriteUInt64LittleEndian(b, v);
        return b;
    }

    /// <summary>Stores fp32 values as a ggml type (Q8_0 as ggml's quantize_row_q8_0_ref).</summary>
    public static byte[] Encode(ReadOnlySpan<float> values, uint type)
    {
        switch (type)
        {
            case F32:
                return System.Runtime.InteropServices.MemoryMarshal.AsBytes(values).ToArray();
            case F16:
            case BF16:
                var halves = new ushort[values.Length];
                if (type == F16) HalfPrecision.NarrowToF16(values, halves);
                else HalfPrecision.NarrowToBf16(values, halves);
                return System.Runtime.InteropServices.MemoryMarshal.AsBytes(halves.AsSpan()).ToArray();
            case Q8_0:
                return QuantizeQ8_0(values);
            default:
                throw new ArgumentException($"Cannot encode type {type}.");
        }
    }

    /// <summary>
    /// Per block of 32: d = max|x| / 127 (stored as fp16), q = round(x / d) half away from zero, as
    /// ggml's reference quantizer (which divides by the fp32 d, not the stored fp16 one).
    /// </summary>
    public static byte[] QuantizeQ8_0(ReadOnlySpan<float> values)
    {
        if (values.Length % 32 != 0) throw new ArgumentException("Q8_0 needs a multiple of 32 values.");
        var bytes = new byte[values.Length / 32 * 34];
        for (int b = 0; b < values.Length / 32; b++)
        {
            ReadOnlySpan<float> x = values.Slice(b * 32, 32);
            float amax = 0;
            foreach (float v in x) amax = Math.Max(amax, Math.Abs(v));
            float d = amax / 127;
            float id = d != 0 ? 1 / d : 0;
            BinaryPrimitives.WriteUInt16LittleEndian(bytes.AsSpan(b * 34), BitConverter.HalfToUInt16Bits((Half)d));
            for (int j = 0; j < 32; j++)
                bytes[b * 34 + 2 + j] = (byte)(sbyte)MathF.Round(x[j] * id, MidpointRounding.AwayFromZero);
        }
        return bytes;
    }
}
