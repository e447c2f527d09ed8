namespace MlPipelines.Exporter;

/// <summary>
/// Produces a directory all at once: its content is written into a hidden temporary directory
/// beside the target (same volume, so the final step is a rename), and only a complete result
/// replaces the target. A failure or cancellation deletes the temporary directory and leaves the
/// target as it was.
/// </summary>
internal static class AtomicDirectory
{
    /// <summary>Runs <paramref name="write"/> on a fresh temporary directory, then moves it to <paramref name="target"/>.</summary>
    /// <exception cref="IOException">The target is a file, or a non-empty directory and <paramref name="replace"/> is false.</exception>
    public static void Write(string target, bool replace, Action<string> write)
    {
        string full = Path.TrimEndingDirectorySeparator(Path.GetFullPath(target));
        CheckTarget(full, target, replace);
        string parent = Path.GetDirectoryName(full) ?? throw new IOException($"'{target}' has no parent directory.");
        Directory.CreateDirectory(parent);
        string name = Path.GetFileName(full);
        string temp = Path.Combine(parent, $".{name}.{Guid.NewGuid():N}.partial");
        Directory.CreateDirectory(temp);
        try
        {
            write(temp);
            CheckTarget(full, target, replace);   // again: something may have appeared meanwhile
            Publish(temp, full, parent, name);
        }
        catch
        {
            TryDelete(temp);
            throw;
        }
    }

    private static void CheckTarget(string full, string target, bool replace)
    {
        if (File.Exists(full))
            throw new IOException($"'{target}' is a file, not a directory; choose another output directory.");
        if (!replace && Directory.Exists(full) && Directory.EnumerateFileSystemEntries(full).Any())
            throw new IOException($"The output directory '{target}' is not empty; allow replacing it (OnnxExportOptions.Force).");
    }

    // The old directory is moved aside (not deleted) until the new one is in place, so that a
    // failing move can put it back.
    private static void Publish(string temp, string full, string parent, string name)
    {
        if (!Directory.Exists(full))
        {
            Directory.Move(temp, full);
            return;
        }
        string old = Path.Combine(parent, $".{name}.{Guid.NewGuid():N}.old");
        Directory.Move(full, old);
        try
        {
            Directory.Move(temp, full);
        }
        catch
        {
            Directory.Move(old, full);
            throw;
        }
        TryDelete(old);
    }

    private static void TryDelete(string directory)
    {
        try { Directory.Delete(directory, recursive: true); }
        catch (IOException) { }
        catch (UnauthorizedAccessException) { }
    }
}
