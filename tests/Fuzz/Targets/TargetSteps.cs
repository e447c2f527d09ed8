using System.Runtime.ExceptionServices;

namespace MlPipelines.Fuzz.Targets;

/// <summary>Runs the stages a user's file goes through one after another, so a stage that rejects the file does not hide the next.</summary>
internal static class TargetSteps
{
    /// <summary>
    /// Runs every step. A failure the contract allows is kept and the next step runs; the first kept failure is rethrown
    /// at the end (the input counts as rejected). Any other failure propagates at once.
    /// </summary>
    public static void RunAll(FuzzTarget target, ScratchDirectory scratch, params Action[] steps)
    {
        Exception? first = null;
        foreach (Action step in steps)
        {
            try
            {
                step();
            }
            catch (Exception e) when (FuzzContract.Check(target, e, scratch) is null)
            {
                first ??= e;
            }
        }
        if (first is not null) ExceptionDispatchInfo.Throw(first);
    }
}
