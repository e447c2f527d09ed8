using System.Globalization;

namespace MlPipelines.Fuzz;

/// <summary>
/// <c>MlPipelines.Fuzz [--target NAME|all] [--inputs N] [--seconds S] [--seed X] [--first I] [--hang-ms MS]
/// [--save-failures DIR] [--repo DIR]</c>: fuzzes each target and prints one line per target; the exit code is the
/// number of targets with contract violations (0: none). <c>--minimize FILE --target NAME</c> shrinks a saved failure;
/// <c>--list</c> names the targets. Coverage-guided: <c>--libfuzzer --target NAME</c> serves inputs to libFuzzer (through
/// <c>tests/Fuzz/run-libfuzzer.sh</c>), <c>--write-seeds DIR --target NAME</c> writes its seed corpus, and
/// <c>--replay FILE|DIR --target NAME</c> checks saved inputs (libFuzzer's crash files or the runner's) against the
/// contract. See docs/reliability.md.
/// </summary>
public static class Program
{
    public static int Main(string[] args)
    {
        LibFuzzerMode.UseLocalCoverageMap();
        try
        {
            return Run(args);
        }
        catch (Exception e) when (e is ArgumentException or InvalidOperationException or IOException)
        {
            // A wrong target name, no checkout found, an unreadable file: the tool's user gets the reason, not a trace.
            return Usage(e.Message);
        }
    }

    private static int Run(string[] args)
    {
        var o = new Dictionary<string, string>(StringComparer.Ordinal);
        for (int i = 0; i < args.Length; i++)
        {
            if (!args[i].StartsWith("--", StringComparison.Ordinal)) return Usage($"unexpected '{args[i]}'");
            string key = args[i][2..];
            o[key] = key is "list" or "libfuzzer" ? "" : i + 1 < args.Length ? args[++i] : "";
        }
        string Get(string key, string fallback) => o.TryGetValue(key, out string? v) ? v : fallback;
        if (o.ContainsKey("list"))
        {
            foreach (FuzzTarget t in FuzzTargets.All) Console.WriteLine($"{t.Name,-16} {t.EntryPoint}");
            return 0;
        }

        using var seeds = new SeedFiles(o.GetValueOrDefault("repo"));
        string targetName = Get("target", "all");
        if (o.TryGetValue("minimize", out string? failure))
        {
            byte[] small = Minimizer.Minimize(FuzzTargets.Get(targetName), seeds, File.ReadAllBytes(failure), Console.Out);
            File.WriteAllBytes(failure + ".min", small);
            Console.WriteLine($"wrote {failure}.min");
            return 0;
        }

        var hangLimit = TimeSpan.FromMilliseconds(double.Parse(Get("hang-ms", "1000"), CultureInfo.InvariantCulture));
        if (o.ContainsKey("libfuzzer"))
        {
            LibFuzzerMode.Serve(FuzzTargets.Get(targetName), seeds, hangLimit);
            return 0;
        }
        if (o.TryGetValue("write-seeds", out string? seedFolder))
        {
            Directory.CreateDirectory(seedFolder);
            FuzzTarget t = FuzzTargets.Get(targetName);
            IReadOnlyList<byte[]> all = t.CreateSeeds(seeds);
            for (int i = 0; i < all.Count; i++) File.WriteAllBytes(Path.Combine(seedFolder, $"{t.Name}-seed-{i}"), all[i]);
            Console.WriteLine($"wrote {all.Count} seeds of {t.Name} to {seedFolder}");
            return 0;
        }
        if (o.TryGetValue("replay", out string? saved))
            return Replay(FuzzTargets.Get(targetName), seeds, saved, hangLimit);

        var options = new FuzzOptions
        {
            Seed = int.Parse(Get("seed", "1"), CultureInfo.InvariantCulture),
            FirstInput = long.Parse(Get("first", "0"), CultureInfo.InvariantCulture),
            Inputs = o.TryGetValue("inputs", out string? n) ? long.Parse(n, CultureInfo.InvariantCulture) : long.MaxValue,
            Duration = o.TryGetValue("seconds", out string? s) ? TimeSpan.FromSeconds(double.Parse(s, CultureInfo.InvariantCulture)) : TimeSpan.MaxValue,
            HangLimit = hangLimit,
            SaveFailuresTo = o.GetValueOrDefault("save-failures"),
            Log = Console.Out,
        };
        if (options.Inputs == long.MaxValue && options.Duration == TimeSpan.MaxValue)
            return Usage("give --inputs or --seconds (or both)");

        IEnumerable<FuzzTarget> targets = targetName == "all" ? FuzzTargets.All : targetName.Split(',').Select(FuzzTargets.Get);
        int failed = 0;
        foreach (FuzzTarget target in targets)
        {
            FuzzResult r = FuzzRunner.Run(target, seeds, options);
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"{r.Target,-16} {r.Inputs,12:N0} inputs {r.Elapsed.TotalSeconds,8:F1} s {r.InputsPerSecond,8:F0}/s  loaded {r.Loaded:N0}  rejected {r.Rejected:N0}  " +
                $"slowest {r.Slowest.TotalMilliseconds:F0} ms (slow once {r.SlowOnce})  most allocated {r.MostAllocated / 1024.0 / 1024:F1} MiB  violations {r.Violations.Count}"));
            foreach (Violation v in r.Violations)
                Console.WriteLine($"  input {v.Input}: {v.Signature}\n    {v.Detail.Split('\n')[0]}");
            if (r.Violations.Count > 0) failed++;
        }
        return failed;
    }

    /// <summary>Checks each saved input (a file, or every file in a folder); the exit code is the number that break the contract.</summary>
    private static int Replay(FuzzTarget target, SeedFiles seeds, string saved, TimeSpan hangLimit)
    {
        using var scratch = new ScratchDirectory(target.Name + "-replay");
        target.Prepare(scratch, seeds);
        string[] files = Directory.Exists(saved) ? [.. Directory.GetFiles(saved).Order(StringComparer.Ordinal)] : [saved];
        int broken = 0;
        foreach (string file in files)
        {
            InputOutcome r = InputCheck.Run(target, File.ReadAllBytes(file), scratch, hangLimit);
            string verdict = r.Breaches.Count > 0 ? "VIOLATION " + string.Join("; ", r.Breaches.Select(b => b.Signature)) : r.Loaded ? "loaded" : "refused (allowed)";
            Console.WriteLine($"{file}: {verdict}");
            foreach (ContractBreach b in r.Breaches) Console.WriteLine("  " + b.Detail.Split('\n')[0]);
            if (r.Breaches.Count > 0) broken++;
        }
        return broken;
    }

    private static int Usage(string problem)
    {
        Console.Error.WriteLine($"MlPipelines.Fuzz: {problem}\nusage: MlPipelines.Fuzz [--target NAME|all|A,B] (--inputs N | --seconds S) [--seed X] [--first I] " +
            "[--hang-ms MS] [--save-failures DIR] [--repo DIR]\n       MlPipelines.Fuzz --minimize FILE --target NAME\n       MlPipelines.Fuzz --list\n" +
            "       MlPipelines.Fuzz --libfuzzer --target NAME [--repo DIR]   (under tests/Fuzz/run-libfuzzer.sh)\n" +
            "       MlPipelines.Fuzz --write-seeds DIR --target NAME\n       MlPipelines.Fuzz --replay FILE|DIR --target NAME");
        return 2;
    }
}
