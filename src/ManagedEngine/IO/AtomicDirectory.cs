using System.Runtime.InteropServices;

namespace MlPipelines.ManagedEngine.IO;

/// <summary>
/// Produces a directory all at once: its content is written into a hidden temporary directory beside the target (same
/// volume, so the final step is a rename), and only a complete result replaces the target. A failure or cancellation
/// deletes the temporary directory and leaves the target as it was; a killed process leaves the target as it was (or
/// complete) plus a hidden <c>.NAME.*.partial</c> sibling, which nothing reads.
/// </summary>
public static partial class AtomicDirectory
{
    /// <summary>Runs <paramref name="write"/> on a fresh temporary directory, then moves it to <paramref name="target"/>.</summary>
    /// <param name="target">The directory to create or replace.</param>
    /// <param name="replace">Replace a non-empty <paramref name="target"/> (an empty one is always used).</param>
    /// <param name="write">Writes the content into the directory it is given.</param>
    /// <param name="replaceOption">How the caller's user allows replacing, for the error message (e.g. <c>--force</c>).</param>
    /// <exception cref="IOException">The target is a file, or a non-empty directory and <paramref name="replace"/> is false.</exception>
    public static void Write(string target, bool replace, Action<string> write, string replaceOption)
    {
        ArgumentException.ThrowIfNullOrEmpty(target);
        ArgumentNullException.ThrowIfNull(write);
        string full = Path.TrimEndingDirectorySeparator(Path.GetFullPath(target));
        CheckTarget(full, target, replace, replaceOption);
        string parent = Path.GetDirectoryName(full) ?? throw new IOException($"'{target}' has no parent directory.");
        Directory.CreateDirectory(parent);
        string name = Path.GetFileName(full);
        string temp = Path.Combine(parent, $".{name}.{Guid.NewGuid():N}.partial");
        Directory.CreateDirectory(temp);
        try
        {
            write(temp);
            CheckTarget(full, target, replace, replaceOption);   // again: something may have appeared meanwhile
            Publish(temp, full, parent, name);
        }
        catch
        {
            TryDelete(temp);
            throw;
        }
    }

    private static void CheckTarget(string full, string target, bool replace, string replaceOption)
    {
        if (File.Exists(full))
            throw new IOException($"'{target}' is a file, not a directory; choose another output directory.");
        if (!replace && Directory.Exists(full) && Directory.EnumerateFileSystemEntries(full).Any())
            throw new IOException($"The output directory '{target}' is not empty; allow replacing it ({replaceOption}).");
    }

    private static void Publish(string temp, string full, string parent, string name)
    {
        if (!Directory.Exists(full))
        {
            Directory.Move(temp, full);
            return;
        }
        // Linux swaps the two directories in one step, so no instant exists in which the target is missing: a process
        // killed just after the swap leaves the old content under the temporary name.
        if (OperatingSystem.IsLinux() && TryExchange(temp, full))
        {
            TryDelete(temp);
            return;
        }
        // Elsewhere the old directory is moved aside (not deleted) until the new one is in place, so that a failing
        // move can put it back; only a kill between the two moves leaves the target missing (the old one is kept).
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

    /// <summary>
    /// Swaps two paths with renameat2(RENAME_EXCHANGE). False when it cannot (a C library or file system without it, or
    /// any other error): the caller then takes the portable path, whose moves report real errors as .NET exceptions.
    /// </summary>
    private static bool TryExchange(string a, string b)
    {
        const int AtCurrentDirectory = -100;   // AT_FDCWD: the paths are absolute anyway
        const uint RenameExchange = 2;         // RENAME_EXCHANGE
        try
        {
            return RenameAt2(AtCurrentDirectory, a, AtCurrentDirectory, b, RenameExchange) == 0;
        }
        catch (EntryPointNotFoundException) { return false; }   // glibc before 2.28, some musl versions
        catch (DllNotFoundException) { return false; }
    }

    [LibraryImport("libc", EntryPoint = "renameat2", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    private static partial int RenameAt2(int oldDirectory, string oldPath, int newDirectory, string newPath, uint flags);

    private static void TryDelete(string directory)
    {
        try { Directory.Delete(directory, recursive: true); }
        catch (IOException) { }
        catch (UnauthorizedAccessException) { }
    }
}
