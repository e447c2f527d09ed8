using System.Buffers.Binary;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.Json;

namespace MlPipelines.Tests.Support;

/// <summary>
/// Writes safetensors files for tests, from the format description (8-byte little-endian header
/// length, JSON header, data) rather than from the reader, so that the two check each other.
/// Tensors are laid out in the order added; the header is padded with spaces to a multiple of 8
/// bytes, as the reference writer does, so the data section starts aligned.
/// </summary>
internal sealed class SafetensorsWriter
{
    private readonly List<(string Name, string DType, long[] Shape, byte[] Data)> _tensors = [];
    private readonly Dictionary<string, string> _metadata = new() { ["format"] = "pt" };

    public SafetensorsWriter Add(string name, string dtype, long[] shape, byte[] data)
    {
        _tensors.Add((name, dtype, shape, data));
        return this;
    }

    public SafetensorsWriter AddF32(string name, long[] shape, float[] values) =>
        Add(name, "F32", shape, MemoryMarshal.AsBytes(values.AsSpan()).ToArray());

    /// <param name="extraHeaderSpaces">Spaces added after the 8-byte padding, to misalign the data section on purpose.</param>
    public byte[] ToBytes(int extraHeaderSpaces = 0)
    {
        using var json = new MemoryStream();
        using (var w = new Utf8JsonWriter(json))
        {
            w.WriteStartObject();
            w.WriteStartObject("__metadata__");
            foreach (var (k, v) in _metadata) w.WriteString(k, v);
            w.WriteEndObject();
            long offset = 0;
            foreach (var t in _tensors)
            {
                w.WriteStartObject(t.Name);
                w.WriteString("dtype", t.DType);
                w.WriteStartArray("shape");
                foreach (long d in t.Shape) w.WriteNumberValue(d);
                w.WriteEndArray();
                w.WriteStartArray("data_offsets");
                w.WriteNumberValue(offset);
                w.WriteNumberValue(offset + t.Data.Length);
                w.WriteEndArray();
                w.WriteEndObject();
                offset += t.Data.Length;
            }
            w.WriteEndObject();
        }
        byte[] header = json.ToArray();
        int padded = (header.Length + 7) / 8 * 8 + extraHeaderSpaces;
        var header8 = Enumerable.Repeat((byte)' ', padded).ToArray();
        header.CopyTo(header8, 0);
        return Raw(header8, _tensors.SelectMany(t => t.Data).ToArray());
    }

    public void Write(string path, int extraHeaderSpaces = 0) => File.WriteAllBytes(path, ToBytes(extraHeaderSpaces));

    /// <summary>A file from a literal header (for malformed cases); <paramref name="headerLength"/> overrides the stated length.</summary>
    public static byte[] Raw(string header, byte[] data, ulong? headerLength = null) =>
        Raw(Encoding.UTF8.GetBytes(header), data, headerLength);

    public static byte[] Raw(byte[] header, byte[] data, ulong? headerLength = null)
    {
        var bytes = new byte[8 + header.Length + data.Length];
        BinaryPrimitives.WriteUInt64LittleEndian(bytes, headerLength ?? (ulong)header.Length);
        header.CopyTo(bytes, 8);
        data.CopyTo(bytes, 8 + header.Length);
        return bytes;
    }
}
