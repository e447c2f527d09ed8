namespace MlPipelines.ManagedEngine.Checkpoints;

/// <summary>
/// Writes a file through a temporary file in the same directory and moves it into place only once
/// it is complete, so a failure or cancellation never leaves a half-written output behind.
/// </summary>
internal static class AtomicFileWriter
{
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
}
