using System.Buffers.Binary;

namespace MlPipelines.ManagedEngine.Formats.Safetensors;

/// <summary>
/// A memory-mapped safetensors file: an 8-byte little-endian header length N, N bytes of JSON
/// header (see <see cref="SafetensorsHeader"/>), then the data section the header's offsets index.
/// Tensor data is reached through pointers into the mapping, so nothing is read until used.
/// </summary>
/// <remarks>
/// N is checked against the file length and <see cref="MaxHeaderBytes"/> before the header is
/// allocated or read, and the whole header is validated before the file is mapped, so a hostile
/// file costs at most one bounded header buffer.
/// </remarks>
internal sealed unsafe class SafetensorsFile : IDisposable
{
    /// <summary>
    /// The largest header accepted (the reference implementation's limit too). Real headers are a few
    /// hundred bytes per tensor: a 70B model's shard headers are well under 100 KB.
    /// </summary>
    public const long MaxHeaderBytes = 100_000_000;

    private const int LengthPrefixBytes = 8;

    private readonly MappedFile _mapped;
    private readonly long _dataStart;

    private SafetensorsFile(string path, MappedFile mapped, long dataStart, SafetensorsHeader.Contents contents)
    {
        Path = path;
        _mapped = mapped;
        _dataStart = dataStart;
        Tensors = contents.Tensors;
        Metadata = contents.Metadata;
    }

    /// <summary>The file's path, for messages.</summary>
    public string Path { get; }

    /// <summary>The tensors by name.</summary>
    public IReadOnlyDictionary<string, SafetensorsTensor> Tensors { get; }

    /// <summary>The header's <c>__metadata__</c> strings (empty when absent).</summary>
    public IReadOnlyDictionary<string, string> Metadata { get; }

    /// <summary>Opens, validates and maps <paramref name="path"/>.</summary>
    /// <exception cref="InvalidDataException">The file is not a well-formed safetensors file; the message names what is wrong.</exception>
    public static SafetensorsFile Open(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        if (!BitConverter.IsLittleEndian)
            throw new PlatformNotSupportedException("safetensors files can only be mapped on little-endian machines.");

        var file = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, bufferSize: 1);
        SafetensorsHeader.Contents contents;
        long dataStart;
        try
        {
            long length = file.Length;
            int headerBytes = ReadHeaderLength(file, length, path);
            var header = new byte[headerBytes];
            file.ReadExactly(header);
            dataStart = LengthPrefixBytes + headerBytes;
            contents = SafetensorsHeader.Parse(header, length - dataStart, path);
        }
        catch
        {
            file.Dispose();
            throw;
        }

        // The length prefix makes the file non-empty, which is all MappedFile needs.
        var mapped = MappedFile.Open(file);
        return new SafetensorsFile(path, mapped, dataStart, contents);
    }

    /// <summary>Reads N and checks it against the file before anything is sized by it.</summary>
    private static int ReadHeaderLength(FileStream file, long fileLength, string path)
    {
        if (fileLength < LengthPrefixBytes)
            throw new InvalidDataException($"{path}: file length {fileLength} bytes is shorter than the {LengthPrefixBytes}-byte " +
                "header length that starts a safetensors file");
        Span<byte> prefix = stackalloc byte[LengthPrefixBytes];
        file.ReadExactly(prefix);
        ulong n = BinaryPrimitives.ReadUInt64LittleEndian(prefix);
        ulong available = (ulong)(fileLength - LengthPrefixBytes);
        if (n > available)
            throw new InvalidDataException($"{path}: header length {n} bytes is larger than the {available} bytes that follow it " +
                $"(file length {fileLength}); the file is truncated or not a safetensors file");
        if (n > MaxHeaderBytes)
            throw new InvalidDataException($"{path}: header length {n} bytes exceeds the supported maximum of {MaxHeaderBytes} bytes");
        if (n < 2)
            throw new InvalidDataException($"{path}: header length {n} bytes cannot hold a JSON object; expected at least \"{{}}\"");
        return (int)n;
    }

    /// <summary>The first byte of <paramref name="tensor"/>'s data (valid while this file is open).</summary>
    public byte* DataPointer(SafetensorsTensor tensor)
    {
        ArgumentNullException.ThrowIfNull(tensor);
        if (!Tensors.TryGetValue(tensor.Name, out SafetensorsTensor? own) || !ReferenceEquals(own, tensor))
            throw new ArgumentException($"Tensor \"{tensor.Name}\" does not belong to {Path}.", nameof(tensor));
        return _mapped.Pointer + _dataStart + tensor.Begin;
    }

    /// <summary>A copy of <paramref name="tensor"/>'s bytes (for tests and small tensors).</summary>
    public byte[] ReadBytes(SafetensorsTensor tensor)
    {
        if (tensor.ByteLength > Array.MaxLength)
            throw new InvalidOperationException($"Tensor \"{tensor.Name}\" holds {tensor.ByteLength} bytes, too many for one array.");
        return new ReadOnlySpan<byte>(DataPointer(tensor), (int)tensor.ByteLength).ToArray();
    }

    /// <summary>Unmaps the file.</summary>
    public void Dispose() => _mapped.Dispose();
}
