using System.Globalization;
using MlPipelines.ManagedEngine.Loading;

namespace MlPipelines.Jobs.Benchmarks;

/// <summary>The text form of a <see cref="BenchmarkReport"/>: a header and a Markdown table.</summary>
internal static class BenchmarkTable
{
    public static void Write(BenchmarkReport r, TextWriter w)
    {
        var m = r.Machine;
        var c = r.Model.Config;
        var o = r.Options;
        w.WriteLine($"date:    {r.Date.ToString("yyyy-MM-dd HH:mm zzz", CultureInfo.InvariantCulture)}");
        if (!r.OptimizedBuild)
            w.WriteLine("build:   Debug (JIT optimizer disabled): not representative; run a Release build (dotnet run -c Release)");
        w.WriteLine($"machine: {m.Cpu}, {m.LogicalCores} logical cores, SIMD {m.SimdWidth}-bit ({m.InstructionSets}), {m.DotNet}, {m.Os}");
        // An onnxruntime-genai builder's export states no feed-forward width (hidden 0), so its parameters are not counted.
        bool shapeKnown = c.HiddenDim > 0;
        w.WriteLine($"model:   {r.Model.Name}{(r.Model.Synthetic ? " (random weights)" : "")}: dim {c.Dim}, hidden {(shapeKnown ? c.HiddenDim : "?")}, " +
            $"{c.LayerCount} layers, {c.HeadCount} heads, {c.KvHeadCount} kv heads, vocab {c.VocabSize}, seq {c.MaxSequenceLength}; " +
            $"{(shapeKnown ? Millions(r.Model.Parameters) : "?")} parameters, {r.Model.FileBytes / 1e6:F1} MB, {r.Quantization ?? "fp32"}");
        w.WriteLine($"runs:    median of {o.Runs} (min–max), tokens/s; decode {o.DecodeTokens} tokens after an {o.PromptTokens}-token prompt; " +
            $"prefill one chunk from position 0");
        WriteMemoryLines(r, w);
        w.WriteLine();

        var header = new List<string> { "engine", "threads", "weights", "load ms", "RSS MiB", "model MiB", "peak MiB", "decode tok/s" };
        header.AddRange(o.PrefillLengths.Select(length => $"prefill-{length} tok/s"));
        var rows = r.Rows.Select(row =>
        {
            var cells = new List<string>
            {
                row.Engine, row.Threads.ToString(CultureInfo.InvariantCulture), row.Load?.Weights ?? "–",
                row.LoadSeconds is double s ? Number(s * 1000) : "–",
                row.Load is { } load ? MiB(load.ResidentAfterBytes) : "–", row.Load is { } l ? MiB(l.ModelBytes) : "–",
                row.Peak is { } peak ? MiB(peak.Bytes) + (peak.SinceProcessStart ? "*" : "") : "–",
                Cell(row.DecodeTokensPerSecond),
            };
            cells.AddRange(row.Prefill.Select(p => Cell(p.TokensPerSecond)));
            return cells;
        }).ToList();

        int[] widths = header.Select((h, i) => Math.Max(h.Length, rows.Select(row => row[i].Length).DefaultIfEmpty(0).Max())).ToArray();
        WriteRow(w, header, widths);
        w.WriteLine("|" + string.Join("|", widths.Select((width, i) => i < TextColumns ? new string('-', width + 2) : new string('-', width + 1) + ":")) + "|");
        foreach (var row in rows)
            WriteRow(w, row, widths);
    }

    // engine, threads and weights are left-aligned; the numbers right-aligned.
    private const int TextColumns = 3;

    // The weight format and sizes the memory columns compare with, and what those columns mean.
    private static void WriteMemoryLines(BenchmarkReport r, TextWriter w)
    {
        string format = r.Model.WeightFormat is not { } f ? "not recorded" : f.Container switch
        {
            ModelFormat.Llama2c => $"{f.Name} in llama2.c",
            ModelFormat.HuggingFace => $"{f.Name} in safetensors",
            ModelFormat.Gguf => $"{f.Name} in GGUF",
            _ => f.Name,   // the name says it: "Q8_0 (llama2.c int8)", "F32 (ONNX export)"
        };
        string kv = r.Rows.Select(row => row.Load?.KvCacheBytes).FirstOrDefault(b => b is not null) is long bytes
            ? $"; KV cache {MiB(bytes)} MiB per managed session" : "";
        w.WriteLine($"weights: {format}; files {MiB(r.Model.FileBytes)} MiB{kv}");
        bool sinceStart = r.Rows.Any(row => row.Peak?.SinceProcessStart == true);
        w.WriteLine("memory:  RSS = resident set right after loading, model = what loading added, " +
            $"peak = highest resident set during the row's measured runs{(sinceStart ? " (* since the process started: it could not be reset here)" : "")}");
    }

    private static void WriteRow(TextWriter w, IReadOnlyList<string> cells, int[] widths) =>
        w.WriteLine("| " + string.Join(" | ", cells.Select((cell, i) => i < TextColumns ? cell.PadRight(widths[i]) : cell.PadLeft(widths[i]))) + " |");

    private static string MiB(long bytes) => (bytes / (1024.0 * 1024)).ToString("F1", CultureInfo.InvariantCulture);

    private static string Cell(Measurement m) => $"{Number(m.Median)} ({Number(m.Min)}–{Number(m.Max)})";

    // Three significant figures at most is all a noisy machine supports; no decimals above 100.
    private static string Number(double value) =>
        value.ToString(value >= 100 ? "F0" : value >= 10 ? "F1" : "F2", CultureInfo.InvariantCulture);

    private static string Millions(long parameters) =>
        parameters >= 1_000_000 ? $"{parameters / 1e6:F1}M" : $"{parameters / 1e3:F0}K";
}
