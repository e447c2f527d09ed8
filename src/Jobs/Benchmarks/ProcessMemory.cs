using System.Diagnostics;
using System.Globalization;

namespace MlPipelines.Jobs.Benchmarks;

/// <summary>
/// This process's resident memory, as the benchmark records it: on Linux <c>VmRSS</c> and <c>VmHWM</c> from
/// <c>/proc/self/status</c> (the peak can be reset by writing <c>5</c> to <c>/proc/self/clear_refs</c>); elsewhere
/// <see cref="Environment.WorkingSet"/> and <see cref="Process.PeakWorkingSet64"/>, whose peak cannot be reset.
/// Each call reads the values afresh; none belongs inside a timed section.
/// </summary>
public static class ProcessMemory
{
    private const string StatusFile = "/proc/self/status", ClearRefsFile = "/proc/self/clear_refs";

    // 0: not tried yet; 1: resetting the peak works; -1: it was refused (not Linux, no such file, no permission).
    private static int _reset;

    /// <summary>The resident set size now, in bytes.</summary>
    public static long ResidentBytes() => ReadStatus("VmRSS:") ?? Environment.WorkingSet;

    /// <summary>
    /// The highest resident set size since the last successful <see cref="TryResetPeak"/>, or since the process started
    /// when there was none, in bytes.
    /// </summary>
    public static long PeakResidentBytes()
    {
        if (ReadStatus("VmHWM:") is long peak)
            return peak;
        using var process = Process.GetCurrentProcess();
        return process.PeakWorkingSet64;
    }

    /// <summary>
    /// Resets the peak to the current resident set (Linux: <c>echo 5 &gt; /proc/self/clear_refs</c>). False when that is
    /// not possible here, in which case <see cref="PeakResidentBytes"/> stays the peak since the process started; after a
    /// first refusal it is not tried again.
    /// </summary>
    public static bool TryResetPeak()
    {
        if (Volatile.Read(ref _reset) < 0)
            return false;
        if (!OperatingSystem.IsLinux())
        {
            Volatile.Write(ref _reset, -1);
            return false;
        }
        try
        {
            using var handle = File.OpenHandle(ClearRefsFile, FileMode.Open, FileAccess.Write);
            RandomAccess.Write(handle, "5"u8, 0);
            Volatile.Write(ref _reset, 1);
            return true;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or NotSupportedException)
        {
            Volatile.Write(ref _reset, -1);
            return false;
        }
    }

    // A "Name:   123 kB" line of /proc/self/status, in bytes; null where there is no such file or line.
    private static long? ReadStatus(string name)
    {
        if (!OperatingSystem.IsLinux())
            return null;
        try
        {
            foreach (string line in File.ReadLines(StatusFile))
            {
                if (!line.StartsWith(name, StringComparison.Ordinal))
                    continue;
                string[] parts = line[name.Length..].Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries);
                if (parts.Length == 2 && parts[1] == "kB" && long.TryParse(parts[0], NumberStyles.None, CultureInfo.InvariantCulture, out long kib))
                    return kib * 1024;
                return null;
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // Fall back to what the runtime knows.
        }
        return null;
    }
}
