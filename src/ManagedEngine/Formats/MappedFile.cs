using System.IO.MemoryMappedFiles;

namespace MlPipelines.ManagedEngine.Formats;

/// <summary>
/// A read-only memory mapping of a whole file with its pointer acquired once, so weight views can
/// point straight into the page cache. Disposing releases the pointer, the view and the mapping.
/// </summary>
internal sealed unsafe class MappedFile : IDisposable
{
    private readonly MemoryMappedFile _map;
    private readonly MemoryMappedViewAccessor _view;
    private bool _disposed;

    private MappedFile(MemoryMappedFile map, MemoryMappedViewAccessor view, byte* pointer, long length)
    {
        _map = map;
        _view = view;
        Pointer = pointer;
        Length = length;
    }

    /// <summary>The first byte of the file.</summary>
    public byte* Pointer { get; }

    /// <summary>The file length in bytes.</summary>
    public long Length { get; }

    /// <summary>Maps <paramref name="file"/> (which must be non-empty); takes ownership of the stream.</summary>
    public static MappedFile Open(FileStream file)
    {
        long length = file.Length;
        MemoryMappedFile? map = null;
        MemoryMappedViewAccessor? view = null;
        try
        {
            map = MemoryMappedFile.CreateFromFile(file, mapName: null, capacity: 0, MemoryMappedFileAccess.Read,
                HandleInheritability.None, leaveOpen: false);
            view = map.CreateViewAccessor(0, length, MemoryMappedFileAccess.Read);
            byte* p = null;
            view.SafeMemoryMappedViewHandle.AcquirePointer(ref p);
            // The view may start below offset 0 on page-granular platforms; PointerOffset corrects for it.
            return new MappedFile(map, view, p + view.PointerOffset, length);
        }
        catch
        {
            view?.Dispose();
            if (map is null) file.Dispose(); else map.Dispose();
            throw;
        }
    }

    public void Dispose()
    {
        if (_disposed)
            return;
        _disposed = true;
        _view.SafeMemoryMappedViewHandle.ReleasePointer();
        _view.Dispose();
        _map.Dispose();
    }

    /// <summary>
    /// Opens a checkpoint, validates its header with <paramref name="readLayout"/> before anything is
    /// mapped, maps it and builds the result with <paramref name="create"/>; whatever was opened is
    /// released if a step fails. Checkpoints are little-endian and mapped as they are.
    /// </summary>
    internal static T LoadValidated<TLayout, T>(string path, Func<FileStream, string, TLayout> readLayout,
        Func<MappedFile, TLayout, string, T> create)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        if (!BitConverter.IsLittleEndian)
            throw new PlatformNotSupportedException("llama2.c checkpoints can only be mapped on little-endian machines.");

        var file = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, bufferSize: 1);
        TLayout layout;
        try
        {
            layout = readLayout(file, path);
        }
        catch
        {
            file.Dispose();
            throw;
        }

        var mapped = Open(file);
        try
        {
            return create(mapped, layout, path);
        }
        catch
        {
            mapped.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Throws an <see cref="InvalidDataException"/> naming the file when its length is not exactly what
    /// the header (described by <paramref name="header"/>) implies.
    /// </summary>
    internal static void CheckLength(string path, long length, long expected, string header)
    {
        if (length != expected)
            throw new InvalidDataException($"{path}: file length {length} bytes is {(length < expected ? "shorter" : "longer")} than the " +
                $"{expected} bytes the header implies ({header}); " +
                (length < expected ? "the file is truncated or the header is wrong" : "the file has trailing data or the header is wrong"));
    }
}
