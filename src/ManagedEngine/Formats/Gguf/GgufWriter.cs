using System.Buffers.Binary;
using System.Text;
using MlPipelines.ManagedEngine.IO;

namespace MlPipelines.ManagedEngine.Formats.Gguf;

/// <summary>
/// Writes a GGUF version 3 file (gguf.md): metadata pairs, tensor infos, then each tensor's data at an offset aligned to
/// 32 bytes (ggml's default, so no <c>general.alignment</c> key is needed). Tensor data is produced by callbacks while the
/// file is written, so a model is never held twice in memory; the file appears atomically when complete.
/// </summary>
internal sealed class GgufWriter
{
    private const int Alignment = 32;
    private readonly List<(string Key, GgufValueType Type, Action<BinaryWriter> Value)> _metadata = [];
    private readonly List<Tensor> _tensors = [];

    private sealed record Tensor(string Name, long[] Ne, GgufTensorType Type, long Bytes, Action<Stream> Write);

    public GgufWriter String(string key, string value) => Add(key, GgufValueType.String, w => WriteString(w, value));
    public GgufWriter UInt32(string key, uint value) => Add(key, GgufValueType.UInt32, w => w.Write(value));
    public GgufWriter Int32(string key, int value) => Add(key, GgufValueType.Int32, w => w.Write(value));
    public GgufWriter Float32(string key, float value) => Add(key, GgufValueType.Float32, w => w.Write(value));
    public GgufWriter Bool(string key, bool value) => Add(key, GgufValueType.Bool, w => w.Write(value ? (byte)1 : (byte)0));

    public GgufWriter Strings(string key, IReadOnlyList<string> values) =>
        Add(key, GgufValueType.Array, w => { ArrayHeader(w, GgufValueType.String, values.Count); foreach (string v in values) WriteString(w, v); });

    public GgufWriter Int32s(string key, IReadOnlyList<int> values) =>
        Add(key, GgufValueType.Array, w => { ArrayHeader(w, GgufValueType.Int32, values.Count); foreach (int v in values) w.Write(v); });

    public GgufWriter Float32s(string key, IReadOnlyList<float> values) =>
        Add(key, GgufValueType.Array, w => { ArrayHeader(w, GgufValueType.Float32, values.Count); foreach (float v in values) w.Write(v); });

    /// <summary>Adds a tensor of ggml shape <paramref name="ne"/> (innermost first) whose <paramref name="bytes"/> bytes <paramref name="write"/> produces.</summary>
    public GgufWriter AddTensor(string name, long[] ne, GgufTensorType type, long bytes, Action<Stream> write)
    {
        _tensors.Add(new Tensor(name, ne, type, bytes, write));
        return this;
    }

    /// <summary>Writes the file; nothing is left behind if a callback throws.</summary>
    public void WriteTo(string path, bool overwrite)
    {
        AtomicFileWriter.Write(path, overwrite, stream =>
        {
            var w = new BinaryWriter(stream, Encoding.UTF8, leaveOpen: true);
            w.Write("GGUF"u8);
            w.Write(3u);
            w.Write((ulong)_tensors.Count);
            w.Write((ulong)_metadata.Count);
            foreach (var (key, type, value) in _metadata)
            {
                WriteString(w, key);
                w.Write((uint)type);
                value(w);
            }
            long offset = 0;
            foreach (Tensor t in _tensors)
            {
                WriteString(w, t.Name);
                w.Write((uint)t.Ne.Length);
                foreach (long n in t.Ne) w.Write((ulong)n);
                w.Write((uint)t.Type);
                w.Write((ulong)offset);
                offset = Pad(offset + t.Bytes);
            }
            w.Flush();
            long dataStart = Pad(stream.Position);
            foreach (Tensor t in _tensors)
            {
                Zeros(stream, Pad(stream.Position - dataStart) + dataStart - stream.Position);
                long before = stream.Position;
                t.Write(stream);
                if (stream.Position - before != t.Bytes)
                    throw new InvalidOperationException($"Tensor '{t.Name}' wrote {stream.Position - before} bytes; its info says {t.Bytes}.");
            }
        });
    }

    private GgufWriter Add(string key, GgufValueType type, Action<BinaryWriter> value)
    {
        _metadata.RemoveAll(m => m.Key == key);
        _metadata.Add((key, type, value));
        return this;
    }

    private static long Pad(long position) => (position + Alignment - 1) / Alignment * Alignment;

    private static void Zeros(Stream stream, long count)
    {
        for (long i = 0; i < count; i++) stream.WriteByte(0);
    }

    private static void ArrayHeader(BinaryWriter w, GgufValueType elementType, int count)
    {
        w.Write((uint)elementType);
        w.Write((ulong)count);
    }

    private static void WriteString(BinaryWriter w, string value)
    {
        byte[] utf8 = Encoding.UTF8.GetBytes(value);
        w.Write((ulong)utf8.Length);
        w.Write(utf8);
    }
}
