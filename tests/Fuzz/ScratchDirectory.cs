namespace MlPipelines.Fuzz;

/// <summary>
/// A target's working folder, reused for every input (the same file names are overwritten, so an input costs a write,
/// not a create and delete); on tmpfs (<c>/dev/shm</c>) when the machine has one, so the writes stay in memory.
/// </summary>
public sealed class ScratchDirectory : IDisposable
{
    public ScratchDirectory(string name)
    {
        string root = Directory.Exists("/dev/shm") ? "/dev/shm" : System.IO.Path.GetTempPath();
        Path = System.IO.Path.Combine(root, $"mlpipe-fuzz-{Environment.ProcessId}-{name}-{Guid.NewGuid().ToString("N")[..8]}");
        Directory.CreateDirectory(Path);
    }

    /// <summary>The folder.</summary>
    public string Path { get; }

    /// <summary>A file in the folder.</summary>
    public string File(string name) => System.IO.Path.Combine(Path, name);

    /// <summary>Writes <paramref name="bytes"/> to <paramref name="name"/> in the folder and returns its path.</summary>
    public string Write(string name, byte[] bytes)
    {
        string path = File(name);
        System.IO.File.WriteAllBytes(path, bytes);
        return path;
    }

    public void Dispose()
    {
        try { Directory.Delete(Path, recursive: true); }
        catch (IOException) { }   // a hung input may still hold a file open; the folder is on tmpfs or in the temp folder
    }
}
