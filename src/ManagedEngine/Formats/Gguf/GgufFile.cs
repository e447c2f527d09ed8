namespace MlPipelines.ManagedEngine.Formats.Gguf;

/// <summary>
/// A GGUF file (llama.cpp's model format, versions 2 and 3, little-endian): its metadata and its
/// tensor directory, read and validated from a read-only memory mapping that stays open until the
/// object is disposed, so tensor data can be used in place.
/// </summary>
/// <remarks>
/// <para>Layout: magic "GGUF", uint32 version, uint64 tensor_count, uint64 metadata_kv_count, the
/// metadata key/value pairs, the tensor infos (name, uint32 n_dims, uint64 ne[n_dims] innermost
/// first, uint32 ggml type, uint64 offset into the data section), then padding to
/// <c>general.alignment</c> (default 32) and the data section.</para>
/// <para>The header is untrusted input: every count and length is checked against the bytes left in
/// the file before anything is allocated; keys, strings and tensor names have length caps, arrays
/// nest at most <see cref="MaxArrayDepth"/> deep, keys and tensor names are unique, dimensions are
/// 1 to 4 values of at least 1 whose byte size is computed with overflow checks, and each tensor's
/// data is aligned, inside the file and overlaps no other tensor.</para>
/// <para>Metadata values are exposed as CLR values: <c>byte, sbyte, ushort, short, uint, int, float,
/// bool, string, ulong, long, double</c> for GGUF's UINT8 … FLOAT64, and arrays as arrays of those
/// (<c>int[]</c>, <c>string[]</c>, …); an array of arrays is an <c>object[]</c> of arrays.</para>
/// </remarks>
public sealed unsafe partial class GgufFile : IDisposable
{
    /// <summary>The default (and most common) data alignment when <c>general.alignment</c> is absent.</summary>
    public const int DefaultAlignment = 32;

    /// <summary>The longest metadata key accepted, in UTF-8 bytes (gguf.md: keys are at most 65535 bytes).</summary>
    public const int MaxKeyBytes = 65535;

    /// <summary>The longest metadata string value accepted, in UTF-8 bytes (16 MiB; chat templates are a few KiB).</summary>
    public const int MaxStringBytes = 16 << 20;

    /// <summary>The longest tensor name accepted, in UTF-8 bytes (gguf.md: tensor names are at most 64 bytes).</summary>
    public const int MaxTensorNameBytes = 64;

    /// <summary>The most dimensions a tensor can have (ggml's GGML_MAX_DIMS).</summary>
    public const int MaxDimensions = 4;

    /// <summary>How deep arrays may nest: 2 allows an array of arrays.</summary>
    public const int MaxArrayDepth = 2;

    internal static ReadOnlySpan<byte> MagicBytes => "GGUF"u8;

    private MappedFile? _mapped;

    private GgufFile(MappedFile mapped, string path, uint version, int alignment, long dataOffset,
        Dictionary<string, object> metadata, List<GgufTensorInfo> tensors)
    {
        _mapped = mapped;
        Path = path;
        Version = version;
        Alignment = alignment;
        DataOffset = dataOffset;
        Metadata = metadata;
        Tensors = tensors;
        _byName = tensors.ToDictionary(t => t.Name, StringComparer.Ordinal);
    }

    private readonly Dictionary<string, GgufTensorInfo> _byName;

    /// <summary>The file this was read from, for messages.</summary>
    public string Path { get; }

    /// <summary>The format version (2 or 3; they share one layout for little-endian files).</summary>
    public uint Version { get; }

    /// <summary>The data alignment in bytes: <c>general.alignment</c>, or <see cref="DefaultAlignment"/>.</summary>
    public int Alignment { get; }

    /// <summary>Where the data section starts, in bytes from the start of the file.</summary>
    public long DataOffset { get; }

    /// <summary>The metadata key/value pairs in file order (see the remarks for the value types).</summary>
    public IReadOnlyDictionary<string, object> Metadata { get; }

    /// <summary>The tensor directory in file order.</summary>
    public IReadOnlyList<GgufTensorInfo> Tensors { get; }

    /// <summary>The tensor named <paramref name="name"/>, or null.</summary>
    public GgufTensorInfo? FindTensor(string name) => _byName.GetValueOrDefault(name);

    /// <summary>
    /// True when <paramref name="path"/> is an existing file starting with the GGUF magic. Reads
    /// four bytes; says nothing about whether the rest of the file is valid.
    /// </summary>
    public static bool HasMagic(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        if (!File.Exists(path)) return false;
        using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, bufferSize: 1);
        Span<byte> head = stackalloc byte[4];
        return stream.ReadAtLeast(head, head.Length, throwOnEndOfStream: false) == head.Length && head.SequenceEqual(MagicBytes);
    }

    /// <summary>Maps <paramref name="path"/> and reads its header; dispose the result to unmap the file.</summary>
    /// <exception cref="InvalidDataException">The file is not a well-formed GGUF file; the message names the field.</exception>
    /// <exception cref="NotSupportedException">A GGUF version 1 or a big-endian file.</exception>
    /// <exception cref="PlatformNotSupportedException">The machine is big-endian.</exception>
    public static GgufFile Open(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        if (!BitConverter.IsLittleEndian)
            throw new PlatformNotSupportedException("GGUF files can only be mapped on little-endian machines.");
        var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, bufferSize: 1);
        if (stream.Length == 0)
        {
            stream.Dispose();
            throw new InvalidDataException($"{path}: the file is empty; expected a GGUF header starting with the magic 'GGUF'");
        }
        var mapped = MappedFile.Open(stream);
        try
        {
            return Read(mapped, path);
        }
        catch
        {
            mapped.Dispose();
            throw;
        }
    }

    /// <summary>The first byte of <paramref name="tensor"/>'s data in the mapping (valid until disposal).</summary>
    internal byte* DataPointer(GgufTensorInfo tensor)
    {
        MappedFile mapped = _mapped ?? throw new ObjectDisposedException(nameof(GgufFile));
        if (FindTensor(tensor.Name) != tensor)
            throw new ArgumentException($"Tensor '{tensor.Name}' does not belong to {Path}.", nameof(tensor));
        return mapped.Pointer + DataOffset + tensor.Offset;
    }

    /// <summary>Unmaps the file; tensor data pointers become invalid.</summary>
    public void Dispose() => Interlocked.Exchange(ref _mapped, null)?.Dispose();
}
