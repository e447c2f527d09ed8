using System.Globalization;

namespace MlPipelines.ManagedEngine.Parity;

/// <summary>Turns a report's figures into failure reasons; each names the figure, its limit and where it was worst.</summary>
internal static class ParityVerdict
{
    public static IReadOnlyList<string> Failures(ParityReport r)
    {
        var failures = new List<string>();
        if (!r.LogitsWithinTolerance)
        {
            PromptParity worst = r.Prompts.MaxBy(p => p.MaxAbsLogitDiff)!;
            failures.Add($"max |Δlogit| {F(r.MaxAbsLogitDiff)} exceeds {F(r.Options.MaxAbsLogitDiff)} " +
                $"(worst: prompt {worst.Index}, {F(worst.MaxAbsLogitDiff)}; top-1 agreement {r.Top1Agreement:P1})");
        }
        if (!r.CosineWithinTolerance)
        {
            PromptParity worst = r.Prompts.MinBy(p => p.EmbeddingCosine)!;
            failures.Add($"min embedding cosine {r.MinCosine.ToString("R", CultureInfo.InvariantCulture)} is below " +
                $"{r.Options.MinCosine.ToString("R", CultureInfo.InvariantCulture)} (prompt {worst.Index})");
        }
        if (r.Options.RequireIdenticalGreedy && !r.GreedyIdentical)
        {
            var diverged = r.Prompts.Where(p => !p.Continuation.Identical)
                .Select(p => $"prompt {p.Index} at token {p.Continuation.FirstDivergence}");
            failures.Add($"greedy continuations differ for {r.Prompts.Count - r.IdenticalContinuations} of {r.Prompts.Count} prompts ({string.Join(", ", diverged)})");
        }
        return failures;
    }

    public static string F(double value) => value.ToString("G3", CultureInfo.InvariantCulture);
}
