using SharpFuzz;

namespace MlPipelines.Fuzz;

/// <summary>
/// Coverage-guided fuzzing: this process serves inputs to libFuzzer through SharpFuzz's interprocess protocol, with the
/// bridge in <c>tests/Fuzz/libfuzzer/</c> on the other side (started by <c>tests/Fuzz/run-libfuzzer.sh</c>, which
/// also instruments the MlPipelines assemblies so their branches feed libFuzzer's coverage map). Every input is checked
/// against the same contract as the mutation runner (<see cref="InputCheck"/>): a breach is thrown, which SharpFuzz
/// reports to libFuzzer as a crash, and libFuzzer saves the input. Hangs are libFuzzer's <c>-timeout</c>; a process
/// crash (a stack overflow) is the bridge seeing the pipe close.
/// </summary>
public static class LibFuzzerMode
{
    /// <summary>The exception a breach becomes, so that libFuzzer sees it as a crash and SharpFuzz prints what it was.</summary>
    public sealed class ContractViolationException(string target, ContractBreach breach)
        : Exception($"{target}: contract violation: {breach.Signature}\n{breach.Detail}", breach.Failure);

    /// <summary>The size of SharpFuzz's coverage map.</summary>
    private const int CoverageBytes = 1 << 16;

    /// <summary>
    /// Gives SharpFuzz's instrumentation somewhere to count before (or without) libFuzzer: an instrumented assembly
    /// writes to <c>Trace.SharedMem</c> on every branch, and until <c>Fuzzer.LibFuzzer.Run</c> points it at the shared
    /// segment it is null. Called first thing, so the seeds, <c>--replay</c> and the mutation runner work in an
    /// instrumented build too (in an uninstrumented one nothing reads it).
    /// </summary>
    public static unsafe void UseLocalCoverageMap()
    {
        if (SharpFuzz.Common.Trace.SharedMem == null)
            SharpFuzz.Common.Trace.SharedMem = (byte*)System.Runtime.InteropServices.NativeMemory.AllocZeroed(CoverageBytes);
    }

    /// <summary>Serves inputs for <paramref name="target"/> until libFuzzer stops or an input breaks the contract.</summary>
    public static void Serve(FuzzTarget target, SeedFiles seeds, TimeSpan hangLimit)
    {
        using var scratch = new ScratchDirectory(target.Name);
        target.Prepare(scratch, seeds);
        // Each seed once before the first input: the first load of each kind compiles its code, which is not the input's time.
        foreach (byte[] seed in target.CreateSeeds(seeds))
        {
            try { target.Run(seed, scratch); } catch (Exception) { }
        }

        // The same 16 MiB of stack as the mutation runner, so a deep but bounded recursion passes in both modes.
        var worker = new Thread(() => Fuzzer.LibFuzzer.Run(data => Check(target, data.ToArray(), scratch, hangLimit)), maxStackSize: 16 << 20)
        {
            Name = "libFuzzer " + target.Name,
        };
        worker.Start();
        worker.Join();
    }

    /// <summary>Runs one input and throws <see cref="ContractViolationException"/> when it breaks the contract.</summary>
    public static void Check(FuzzTarget target, byte[] input, ScratchDirectory scratch, TimeSpan hangLimit)
    {
        InputOutcome outcome = InputCheck.Run(target, input, scratch, hangLimit);
        if (outcome.Breaches.Count > 0) throw new ContractViolationException(target.Name, outcome.Breaches[0]);
    }
}
