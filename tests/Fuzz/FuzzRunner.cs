using System.Diagnostics;

namespace MlPipelines.Fuzz;

/// <summary>How long and how hard to fuzz one target.</summary>
public sealed record FuzzOptions
{
    /// <summary>The run's seed: input <c>i</c> of seed <c>s</c> is always the same bytes.</summary>
    public int Seed { get; init; } = 1;

    /// <summary>The first input number (to resume or replay part of a run).</summary>
    public long FirstInput { get; init; }

    /// <summary>Stop after this many inputs.</summary>
    public long Inputs { get; init; } = long.MaxValue;

    /// <summary>Stop after this long.</summary>
    public TimeSpan Duration { get; init; } = TimeSpan.MaxValue;

    /// <summary>
    /// The processor time an input may take (more, twice in a row, is a violation); one still running on the wall clock
    /// after <see cref="FuzzRunner.WallClockHangLimit"/> of it is a hang.
    /// </summary>
    public TimeSpan HangLimit { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>Where each distinct violation's input is saved (null: not saved).</summary>
    public string? SaveFailuresTo { get; init; }

    /// <summary>Where progress lines go (null: nowhere).</summary>
    public TextWriter? Log { get; init; }
}

/// <summary>One input that broke the contract.</summary>
public sealed record Violation(string Target, int Seed, long Input, string Signature, string Detail, byte[] Bytes);

/// <summary>What a run did.</summary>
/// <param name="SlowOnce">Inputs past the hang limit once but not when run again (the machine, not the input).</param>
public sealed record FuzzResult(string Target, long Inputs, long Loaded, long Rejected, TimeSpan Elapsed, long MostAllocated, TimeSpan Slowest,
    long SlowOnce, IReadOnlyList<Violation> Violations)
{
    public double InputsPerSecond => Inputs / Math.Max(Elapsed.TotalSeconds, 1e-9);
}

/// <summary>
/// Feeds mutants to a target on one worker thread, in order, while the calling thread watches the clock: an input that
/// runs past the wall-clock hang limit is reported and the run ends (its thread cannot be stopped; it is a background
/// thread).
/// </summary>
public static class FuzzRunner
{
    /// <summary>How often a long run logs its progress (also every 100,000 inputs).</summary>
    private static readonly TimeSpan ReportEvery = TimeSpan.FromMinutes(2);

    /// <summary>Distinct violations kept (and saved) per run; more of the same signature are only counted.</summary>
    private const int MaxDistinct = 50;

    public static FuzzResult Run(FuzzTarget target, SeedFiles seedFiles, FuzzOptions options)
    {
        using var scratch = new ScratchDirectory(target.Name);
        target.Prepare(scratch, seedFiles);
        var mutator = new Mutator(target, target.CreateSeeds(seedFiles));
        var violations = new List<Violation>();
        var signatures = new HashSet<string>(StringComparer.Ordinal);
        long done = 0, loaded = 0, rejected = 0, mostAllocated = 0, slowOnce = 0;
        TimeSpan slowest = TimeSpan.Zero, lastReport = TimeSpan.Zero;
        long currentStart = 0;   // Stopwatch timestamp of the running input, 0 between inputs
        long currentInput = -1;
        byte[] currentBytes = [];
        bool stop = false;
        var clock = Stopwatch.StartNew();

        void Record(ContractBreach breach, long input, byte[] bytes)
        {
            string signature = breach.Signature;
            lock (violations)
            {
                if (!signatures.Add(signature) || violations.Count >= MaxDistinct) return;
                var v = new Violation(target.Name, options.Seed, input, signature, breach.Detail, bytes);
                violations.Add(v);
                Save(v, options.SaveFailuresTo);
                options.Log?.WriteLine($"{target.Name}: VIOLATION at input {input} (seed {options.Seed}): {signature}\n  {breach.Detail.Split('\n')[0]}");
            }
        }

        void Work()
        {
            // Each seed once, unmeasured: the first load of each kind compiles its code, which is not the input's time.
            // The watchdog still watches (as input -1): a seed that hangs is a hang.
            foreach (byte[] seed in mutator.Seeds)
            {
                currentBytes = seed;
                Volatile.Write(ref currentStart, Stopwatch.GetTimestamp());
                try { target.Run(seed, scratch); } catch (Exception) { }
                Volatile.Write(ref currentStart, 0);
            }

            for (long i = options.FirstInput; !Volatile.Read(ref stop) && i - options.FirstInput < options.Inputs && clock.Elapsed < options.Duration; i++)
            {
                byte[] input = mutator.Mutant(options.Seed, i);
                currentBytes = input;
                Volatile.Write(ref currentInput, i);
                Volatile.Write(ref currentStart, Stopwatch.GetTimestamp());
                InputOutcome outcome = InputCheck.Run(target, input, scratch, options.HangLimit);
                Volatile.Write(ref currentStart, 0);
                if (outcome.Loaded) loaded++;
                else if (!outcome.Breaches.Any(b => b.Kind == "exception")) rejected++;
                foreach (ContractBreach b in outcome.Breaches) Record(b, i, input);
                if (outcome.SlowOnce) slowOnce++;
                mostAllocated = Math.Max(mostAllocated, outcome.Allocated);
                slowest = outcome.ProcessorTime > slowest ? outcome.ProcessorTime : slowest;
                done++;
                if (options.Log is { } log && (done % 100_000 == 0 || clock.Elapsed - lastReport > ReportEvery))
                {
                    lastReport = clock.Elapsed;
                    log.WriteLine($"{target.Name}: {done:N0} inputs (up to input {i}), {done / clock.Elapsed.TotalSeconds:F0}/s, " +
                        $"slow once {slowOnce}, {violations.Count} violations");
                    log.Flush();
                }
            }
        }

        // 16 MiB of stack: deep but bounded recursion in a parser passes; unbounded recursion still overflows it and
        // ends the process, which is the crash the caller sees.
        var worker = new Thread(Work, maxStackSize: 16 << 20) { IsBackground = true, Name = "fuzz " + target.Name };
        worker.Start();
        bool hung = false;
        while (!worker.Join(50))
        {
            long start = Volatile.Read(ref currentStart);
            if (start != 0 && Stopwatch.GetElapsedTime(start) > WallClockHangLimit(options.HangLimit))
            {
                // Still running well past the limit: a hang. Its thread keeps running in the background.
                Volatile.Write(ref stop, true);
                Record(new ContractBreach("hang", $"still running after {Stopwatch.GetElapsedTime(start).TotalSeconds:F1} s", null), Volatile.Read(ref currentInput), currentBytes);
                hung = true;
                break;
            }
        }
        if (!hung) Volatile.Write(ref stop, true);
        return new FuzzResult(target.Name, done, loaded, rejected, clock.Elapsed, mostAllocated, slowest,
            slowOnce, [.. violations]);
    }

    /// <summary>
    /// How long an input may run on the wall clock before it counts as a hang: well past the processor-time limit,
    /// since on a busy machine a thread may wait for a processor far longer than it runs.
    /// </summary>
    public static TimeSpan WallClockHangLimit(TimeSpan limit) => limit * 10 + TimeSpan.FromSeconds(5);

    private static void Save(Violation v, string? directory)
    {
        if (directory is null) return;
        Directory.CreateDirectory(directory);
        string stem = Path.Combine(directory, $"{v.Target}-s{v.Seed}-i{v.Input}");
        File.WriteAllBytes(stem + ".bin", v.Bytes);
        File.WriteAllText(stem + ".txt", $"{v.Signature}\n{v.Detail}\n");
    }
}
