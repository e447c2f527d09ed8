using System.Runtime.InteropServices;

namespace MlPipelines.ManagedEngine.Formats;

/// <summary>
/// Advice to the kernel about weight memory (Linux <c>madvise</c>; elsewhere, and on failure, nothing happens).
/// </summary>
internal static unsafe partial class PageAdvice
{
    private const int MadviseDontNeed = 4, MadviseHugePage = 14;

    /// <summary>The size of a transparent huge page on x86-64 and most ARM64 kernels.</summary>
    public const long HugePageBytes = 2 << 20;

    /// <summary>
    /// Allocates <paramref name="bytes"/> of uninitialised native memory for data that is streamed (weights): from a huge
    /// page up aligned to huge pages and asked to be backed by them (<see cref="PreferHugePages"/>), below that 64-byte
    /// aligned. Free with <see cref="NativeMemory.AlignedFree"/>.
    /// </summary>
    /// <exception cref="OutOfMemoryException">The allocation failed.</exception>
    public static byte* AllocateStreamed(nuint bytes)
    {
        bool huge = bytes >= HugePageBytes;
        byte* p = (byte*)NativeMemory.AlignedAlloc(bytes, huge ? (nuint)HugePageBytes : 64);
        if (huge) PreferHugePages(p, (long)bytes);
        return p;
    }

    /// <summary>
    /// Asks for transparent huge pages behind <paramref name="start"/>..+<paramref name="length"/> (anonymous memory not
    /// yet touched): decode streams every weight once per token, and with 4 KB pages each page costs a translation.
    /// </summary>
    public static void PreferHugePages(byte* start, long length)
    {
        if (OperatingSystem.IsLinux() && length > 0)
            _ = Madvise((nint)start, (nuint)length, MadviseHugePage);
    }

    /// <summary>
    /// Gives back the resident pages of a read-only file mapping that the process no longer reads (a matrix re-laid into
    /// its own memory), so that resident memory holds one copy of the weights, not two. The mapping stays valid: a later
    /// read faults the page in again from the file. Only the whole pages inside the range are released (elsewhere than
    /// on Linux the pages are reclaimed only under memory pressure).
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
