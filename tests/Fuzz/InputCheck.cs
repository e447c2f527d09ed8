namespace MlPipelines.Fuzz;

/// <summary>One way an input broke the contract: its kind (exception, allocation, slow), what happened, and the exception if any.</summary>
public sealed record ContractBreach(string Kind, string Detail, Exception? Failure)
{
    /// <summary>A short signature to group repeats (see <see cref="FuzzContract.Signature"/>).</summary>
    public string Signature => FuzzContract.Signature(Kind, Failure);
}

/// <summary>What one input did: loaded or was refused as allowed, what it cost, and how it broke the contract (usually not at all).</summary>
/// <param name="SlowOnce">It went past the processor-time limit once but not when run again (the machine, not the input).</param>
public sealed record InputOutcome(bool Loaded, long Allocated, TimeSpan ProcessorTime, bool SlowOnce, IReadOnlyList<ContractBreach> Breaches);

/// <summary>
/// Runs one input through a target and checks it against <see cref="FuzzContract"/>: exception type and message,
/// allocation cap, and processor time (past the limit twice in a row). Hangs and crashes are the caller's to see: the
/// mutation runner watches the wall clock from another thread; under libFuzzer the bridge process does.
/// </summary>
public static class InputCheck
{
    public static InputOutcome Run(FuzzTarget target, byte[] input, ScratchDirectory scratch, TimeSpan hangLimit)
    {
        List<ContractBreach>? breaches = null;
        void Add(ContractBreach b) => (breaches ??= []).Add(b);

        bool loaded = false;
        long allocatedBefore = GC.GetTotalAllocatedBytes(precise: false);
        TimeSpan cpuBefore = ThreadCpuTime.Now();
        try
        {
            target.Run(input, scratch);
            loaded = true;
        }
        catch (Exception e)
        {
            if (FuzzContract.Check(target, e, scratch) is { } problem)
                Add(new ContractBreach("exception", problem + "\n" + e, e));
        }
        TimeSpan cpu = ThreadCpuTime.Now() - cpuBefore;
        long allocated = GC.GetTotalAllocatedBytes(precise: false) - allocatedBefore;

        long cap = FuzzContract.AllocationCap(target, input.Length);
        if (allocated > cap)
            Add(new ContractBreach("allocation", $"allocated {allocated:N0} bytes for a {input.Length:N0}-byte input (cap {cap:N0})", null));

        bool slowOnce = false;
        if (cpu > hangLimit)
        {
            // A collection or the JIT can stretch any input once: it is slow only if it is slow again.
            TimeSpan again = ThreadCpuTime.Now();
            try { target.Run(input, scratch); } catch (Exception) { }
            TimeSpan second = ThreadCpuTime.Now() - again;
            if (second > hangLimit)
                Add(new ContractBreach("slow", $"took {cpu.TotalMilliseconds:F0} ms, then {second.TotalMilliseconds:F0} ms of processor time (limit {hangLimit.TotalMilliseconds:F0} ms)", null));
            else
                slowOnce = true;
        }
        return new InputOutcome(loaded, allocated, cpu, slowOnce, breaches ?? (IReadOnlyList<ContractBreach>)[]);
    }
}
