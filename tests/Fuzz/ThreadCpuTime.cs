using System.Diagnostics;
using System.Runtime.InteropServices;

namespace MlPipelines.Fuzz;

/// <summary>
/// The processor time the calling thread has used. An input's time is measured in it rather than on the wall clock:
/// on a machine shared with other work a thread may wait for a processor far longer than it runs, and the contract's
/// limit is about what the parser does with the input. Where the thread clock is unavailable (not Linux), wall time.
/// </summary>
internal static partial class ThreadCpuTime
{
    private const int ClockThreadCpuTimeId = 3;   // CLOCK_THREAD_CPUTIME_ID

    [StructLayout(LayoutKind.Sequential)]
    private struct TimeSpec
    {
        public long Seconds;
        public long Nanoseconds;
    }

    [LibraryImport("libc", EntryPoint = "clock_gettime")]
    private static partial int ClockGetTime(int clock, out TimeSpec time);

    private static readonly bool Available = OperatingSystem.IsLinux() && Environment.Is64BitProcess && Probe();

    /// <summary>The thread's processor time so far (or the wall clock's timestamp where that is unavailable).</summary>
    public static TimeSpan Now()
    {
        if (Available && ClockGetTime(ClockThreadCpuTimeId, out TimeSpec t) == 0)
            return TimeSpan.FromTicks(t.Seconds * TimeSpan.TicksPerSecond + t.Nanoseconds / 100);
        return Stopwatch.GetElapsedTime(0);
    }

    private static bool Probe()
    {
        try
        {
            return ClockGetTime(ClockThreadCpuTimeId, out _) == 0;
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException)
        {
            return false;
        }
    }
}
