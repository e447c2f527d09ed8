using System.Globalization;
namespace MlPipelines.ManagedEngine.Parity;

/// <summary>
/// The parity report as a plain-text table: it reads the same on a terminal, in a CI log and in a
/// redirected file, which is where a gating command's output usually ends up.
/// </summary>
internal static class ParityTable
{
    private const int PromptWidth = 40;

    public static void Write(ParityReport r, TextWriter w)
    {
        w.WriteLine($"A: {r.ModelA}");
        w.WriteLine($"B: {r.ModelB}");
        w.WriteLine($"{"#",4}  {"tokens",6}  {"max|Δlogit|",11}  {"mean|Δlogit|",12}  {"top-1",7}  {"greedy",-20}  {"cosine",10}  prompt");
        foreach (PromptParity p in r.Prompts)
            w.WriteLine($"{p.Index,4}  {p.TokenCount,6}  {G(p.MaxAbsLogitDiff),11}  {G(p.MeanAbsLogitDiff),12}  {Pct(p.Top1Agreement),7}  " +
                $"{Greedy(p.Continuation),-20}  {Cos(p.EmbeddingCosine),10}  {Shorten(p.Prompt)}");
        w.WriteLine($"{"all",4}  {r.Prompts.Sum(p => p.TokenCount),6}  {G(r.MaxAbsLogitDiff),11}  {G(r.MeanAbsLogitDiff),12}  {Pct(r.Top1Agreement),7}  " +
            $"{$"{r.IdenticalContinuations}/{r.Prompts.Count} identical",-20}  {Cos(r.MinCosine),10}  (cosine: minimum)");
        foreach (PromptParity p in r.Prompts.Where(p => !p.Continuation.Identical))
            w.WriteLine($"note: prompt {p.Index}: {p.ComparisonNote}.");
        if (!r.EmbeddingsCompared)
            w.WriteLine("note: embeddings not compared: an engine gives no hidden states (a logits-only ONNX graph).");
        w.WriteLine($"thresholds: max |Δlogit| ≤ {G(r.Options.MaxAbsLogitDiff)}, cosine ≥ {Cos(r.Options.MinCosine)}, " +
            $"greedy {(r.Options.RequireIdenticalGreedy ? "identical" : "may differ")}; {r.Elapsed.TotalSeconds:F1} s");
        if (r.Passed)
            w.WriteLine("PASSED");
        else
        {
            w.WriteLine("FAILED");
            foreach (string failure in r.Failures)
                w.WriteLine($"  - {failure}");
        }
    }

    private static string Greedy(ContinuationParity c) =>
        c.FirstDivergence is int d ? $"differ at {d}/{c.Length}" : $"identical ({c.Length})";

    private static string G(double v) => v.ToString("0.00E+00", CultureInfo.InvariantCulture);

    private static string Pct(double v) => v.ToString("P1", CultureInfo.InvariantCulture);

    private static string Cos(double v) => double.IsNaN(v) ? "n/a" : v.ToString("F7", CultureInfo.InvariantCulture);

    private static string Shorten(string prompt)
    {
        string flat = prompt.ReplaceLineEndings(" ");
        return flat.Length <= PromptWidth ? flat : flat[..(PromptWidth - 1)] + "…";
    }
}
