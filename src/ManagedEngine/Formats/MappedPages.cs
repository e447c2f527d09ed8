using System.Runtime.InteropServices;

namespace MlPipelines.ManagedEngine.Formats;

/// <summary>
/// Gives back the resident pages of a read-only file mapping that the process no longer reads (a matrix re-laid into
/// its own memory), so that resident memory holds one copy of the weights, not two. The mapping stays valid: a later
/// read faults the page in again from the file.
/// </summary>
internal static unsafe partial class MappedPages
{
    private const int MadviseDontNeed = 4;

    /// <summary>
    /// Releases the whole pages inside <paramref name="start"/>..<paramref name="start"/>+<paramref name="length"/> (Linux;
    /// elsewhere, and on failure, nothing happens: the pages are then only reclaimed under memory pressure).
    /// </summary>
    public static void Release(byte* start, long length)
    {
        if (!OperatingSystem.IsLinux() || length <= 0)
            return;
        long page = Environment.SystemPageSize;
        long first = ((long)start + page - 1) / page * page, end = ((long)start + length) / page * page;
        if (end > first)
            _ = Madvise((nint)first, (nuint)(end - first), MadviseDontNeed);
    }

    [LibraryImport("libc", EntryPoint = "madvise")]
    private static partial int Madvise(nint address, nuint length, int advice);
}
