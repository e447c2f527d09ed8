using System.Diagnostics;
using System.Text;
using Xunit.Abstractions;

namespace MlPipelines.Cli.Tests.Kill;

/// <summary>
/// Runs a .NET program of the test output folder (<c>mlpipe.dll</c>, or this test assembly as the pipeline-saving helper)
/// as a real process, and kills it with SIGKILL at chosen moments: no finally block, Dispose or flush runs, as when a
/// machine's OOM killer or a user's <c>kill -9</c> stops it.
/// </summary>
internal sealed class KillHarness(ITestOutputHelper log, int seed)
{
    // Hang detection only: the programs here finish in about a second; a busy CI machine may be many times slower.
    private static readonly TimeSpan HangLimit = TimeSpan.FromMinutes(3);

    private readonly Random _random = new(seed);

    /// <summary>Variables set (or, when null, removed) in the child's environment; the test process's own stay untouched.</summary>
    public Dictionary<string, string?> Environment { get; } = [];

    /// <summary>The program run: <c>mlpipe.dll</c> unless changed.</summary>
    public string Program { get; init; } = Path.Combine(AppContext.BaseDirectory, "mlpipe.dll");

    /// <param name="FirstChange">When the watched folder first changed (null: not watched, or no change).</param>
    public sealed record Result(int ExitCode, string Stdout, string Stderr, TimeSpan Elapsed, TimeSpan? FirstChange);

    /// <summary>Runs to the end, noting when <paramref name="watch"/> (a folder, if given) first changes.</summary>
    public Result Run(string[] args, string? watch = null)
    {
        var (process, stdout, stderr) = Start(args);
        using (process)
        {
            var clock = Stopwatch.StartNew();
            TimeSpan? firstChange = watch is null ? null : WaitForChange(process, watch, clock);
            if (!process.WaitForExit(HangLimit))
            {
                process.Kill(entireProcessTree: true);
                throw new TimeoutException($"{string.Join(' ', args)} did not finish within {HangLimit}; stderr so far: {stderr}");
            }
            TimeSpan elapsed = clock.Elapsed;
            process.WaitForExit();   // the output readers are done too
            return new Result(process.ExitCode, stdout.ToString(), stderr.ToString(), elapsed, firstChange);
        }
    }

    /// <summary>Runs to the end.</summary>
    public Result Run(params string[] args) => Run(args, watch: null);

    /// <summary>
    /// Runs and kills the process after <paramref name="delay"/>, counted from the start or, when <paramref name="watch"/>
    /// is given, from the first change in that folder (so the kill lands while the output is being written); false when
    /// the process had finished by then.
    /// </summary>
    public bool RunAndKill(TimeSpan delay, string[] args, string? watch = null)
    {
        var (process, _, stderr) = Start(args);
        using (process)
        {
            if (watch is not null && WaitForChange(process, watch, Stopwatch.StartNew()) is null)
                return false;
            if (process.WaitForExit(delay))
                return false;
            process.Kill(entireProcessTree: true);
            if (!process.WaitForExit(HangLimit))
                throw new TimeoutException($"{string.Join(' ', args)} did not stop within {HangLimit} of SIGKILL; stderr: {stderr}");
            return true;
        }
    }

    /// <summary>Runs and kills the process after <paramref name="delay"/>; false when it had finished by then.</summary>
    public bool RunAndKill(TimeSpan delay, params string[] args) => RunAndKill(delay, args, watch: null);

    /// <summary>Polls <paramref name="folder"/> until anything in it changes (null if the process exits first).</summary>
    private static TimeSpan? WaitForChange(Process process, string folder, Stopwatch clock)
    {
        string initial = Listing(folder);
        while (clock.Elapsed < HangLimit)
        {
            if (Listing(folder) != initial)
                return clock.Elapsed;
            if (process.WaitForExit(1))
                return Listing(folder) != initial ? clock.Elapsed : null;
        }
        throw new TimeoutException($"{folder} did not change within {HangLimit}");
    }

    /// <summary>Every entry under the folder with its length: enough to see a file appear, grow, vanish or be renamed.</summary>
    private static string Listing(string folder)
    {
        try
        {
            var info = new DirectoryInfo(folder);
            if (!info.Exists) return "";
            return string.Join('\n', info.EnumerateFileSystemInfos("*", SearchOption.AllDirectories)
                .Select(e => $"{e.FullName} {(e is FileInfo f ? f.Length : -1)}").Order(StringComparer.Ordinal));
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return "changing";   // an entry vanished while being listed
        }
    }

    /// <summary>
    /// <paramref name="count"/> seeded random delays spread over <paramref name="duration"/>: one in each of
    /// <paramref name="count"/> equal slices (the last reaching a little past the end), so every phase is hit.
    /// </summary>
    public TimeSpan[] Delays(TimeSpan duration, int count, string what = "uninterrupted run")
    {
        var delays = new TimeSpan[count];
        for (int i = 0; i < count; i++)
            delays[i] = duration * ((i + _random.NextDouble()) / count * 1.1);
        log.WriteLine($"{what}: {duration.TotalMilliseconds:F0} ms; kills after {string.Join(", ", delays.Select(d => $"{d.TotalMilliseconds:F0}"))} ms");
        return delays;
    }

    private (Process Process, StringBuilder Stdout, StringBuilder Stderr) Start(string[] args)
    {
        // As the in-process runs: the default model resolves to the models folder beside mlpipe.
        var start = new ProcessStartInfo("dotnet")
        {
            RedirectStandardError = true, RedirectStandardOutput = true, WorkingDirectory = Directory.GetCurrentDirectory(),
        };
        start.ArgumentList.Add(Program);
        foreach (string a in args) start.ArgumentList.Add(a);
        foreach (var (name, value) in Environment)
        {
            if (value is null) start.Environment.Remove(name);
            else start.Environment[name] = value;
        }
        var stdout = new StringBuilder();
        var stderr = new StringBuilder();
        var process = Process.Start(start)!;
        process.OutputDataReceived += (_, e) => { if (e.Data is not null) lock (stdout) stdout.AppendLine(e.Data); };
        process.ErrorDataReceived += (_, e) => { if (e.Data is not null) lock (stderr) stderr.AppendLine(e.Data); };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return (process, stdout, stderr);
    }
}
