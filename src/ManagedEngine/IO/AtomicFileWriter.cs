namespace MlPipelines.ManagedEngine.IO;

/// <summary>
/// Writes a file through a temporary file in the same directory and moves it into place only once
/// it is complete, so a failure or cancellation never leaves a half-written output behind.
/// </summary>
public static class AtomicFileWriter
{
    /// <summary>Writes <paramref name="path"/> with <paramref name="write"/>, all or nothing.</summary>
    /// <exception cref="IOException">The file exists and <paramref name="overwrite"/> is false.</exception>
    public static void Write(string path, bool overwrite, Action<Stream> write)
    {
        string fullPath = Path.GetFullPath(path);
        if (!overwrite && File.Exists(fullPath))
            throw new IOException($"{path}: the file already exists; pass overwrite: true to replace it.");

        // Same directory as the target so the final move is a rename, not a copy across volumes.
        string directory = Path.GetDirectoryName(fullPath) ?? ".";
        string temp = Path.Combine(directory, $".{Path.GetFileName(fullPath)}.{Guid.NewGuid():N}.tmp");
        try
        {
            using (var stream = new FileStream(temp, FileMode.CreateNew, FileAccess.Write, FileShare.None, bufferSize: 1 << 20))
            {
                write(stream);
                stream.Flush(flushToDisk: true);
            }
            // With overwrite false this still fails if someone created the target meanwhile.
            File.Move(temp, fullPath, overwrite);
        }
        catch
        {
            try { File.Delete(temp); } catch (IOException) { } catch (UnauthorizedAccessException) { }
            throw;
        }
    }

    /// <summary>Writes <paramref name="text"/> (UTF-8) to <paramref name="path"/>, replacing it, all or nothing.</summary>
    /// <exception cref="DirectoryNotFoundException">The directory does not exist.</exception>
    public static void WriteAllText(string path, string text)
    {
        string directory = Path.GetDirectoryName(Path.GetFullPath(path)) ?? ".";
        if (!Directory.Exists(directory))
            throw new DirectoryNotFoundException($"Cannot write '{path}': the directory '{directory}' does not exist.");
        Write(path, overwrite: true, stream =>
        {
            using var writer = new StreamWriter(stream, new System.Text.UTF8Encoding(false), leaveOpen: true);
            writer.Write(text);
        });
    }
}
