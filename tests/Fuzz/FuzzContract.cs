namespace MlPipelines.Fuzz;

/// <summary>
/// What every input must do: load, or fail with one of the target's documented exception types and a message that names
/// the file; within the hang limit; allocating at most <see cref="FuzzTarget.AllocationPerInputByte"/> times its size plus
/// <see cref="AllocationSlackBytes"/>. A stack overflow or a crash ends the process, which the runner's caller sees.
/// </summary>
public static class FuzzContract
{
    /// <summary>Allocation every input may make whatever its size (tables, the runtime's own buffers, a model object).</summary>
    public const long AllocationSlackBytes = 32L << 20;

    /// <summary>
    /// What rendering a chat template may allocate beyond <see cref="AllocationSlackBytes"/>, whatever its size. A template
    /// is a program: its allocations follow the work it does, which the renderer bounds (ChatTemplates' RenderBudget:
    /// 100,000 loop iterations and macro calls, 32M characters of text made), not its bytes — a 434-byte template with
    /// two nested loops over its own strings renders 22,500 iterations and allocates 78 MB, all of it short-lived. So the
    /// cap is the budget's: two bytes for each character, and 4 KiB for each step (that template's steps took 3.5 KiB each).
    /// </summary>
    public const long TemplateRenderAllocationBytes = 2L * 32 * 1024 * 1024 + 100_000L * 4096;

    /// <summary>The allocation cap for an input of <paramref name="inputBytes"/> bytes.</summary>
    public static long AllocationCap(FuzzTarget target, long inputBytes) =>
        AllocationSlackBytes + (target.RendersTemplates ? TemplateRenderAllocationBytes : 0) + target.AllocationPerInputByte * inputBytes;

    /// <summary>The violation <paramref name="failure"/> is, or null when it is an allowed failure.</summary>
    public static string? Check(FuzzTarget target, Exception failure, ScratchDirectory scratch)
    {
        if (!target.AllowedExceptions.Any(t => t.IsInstanceOfType(failure)))
            return $"{failure.GetType().FullName}: {failure.Message}";
        if (string.IsNullOrWhiteSpace(failure.Message))
            return $"{failure.GetType().Name} without a message";
        if (target.MessageMustNameFile(failure) && !failure.Message.Contains(scratch.Path, StringComparison.Ordinal))
            return $"{failure.GetType().Name} whose message does not name the file: {failure.Message}";
        return null;
    }

    /// <summary>A short signature of a violation (kind, exception type and the first frame in this repository's code), to group repeats.</summary>
    public static string Signature(string kind, Exception? failure)
    {
        if (failure is null) return kind;
        string? frame = failure.StackTrace?.Split('\n').Select(l => l.Trim()).FirstOrDefault(l => l.StartsWith("at MlPipelines.", StringComparison.Ordinal));
        if (frame is not null && frame.IndexOf(" in ", StringComparison.Ordinal) is var cut and > 0) frame = frame[..cut];
        return $"{kind} {failure.GetType().Name} {frame}";
    }
}
