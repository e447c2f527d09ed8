using System.CommandLine;
using System.Diagnostics;
using Microsoft.ML;
using Microsoft.ML.Data;
using MlPipelines.ManagedEngine.Embeddings;
using MlPipelines.ManagedEngine.Loading;
using MlPipelines.ManagedEngine.Parity;
using MlPipelines.OnnxEngine;
using MlPipelines.Pipelines.Transforms;
using Spectre.Console;

namespace MlPipelines.Cli.Commands;

/// <summary>
/// <c>mlpipe demo</c>: the README's first command. On the default model and a small sample dataset it
/// exports the model to ONNX (once, into a cache), runs one ML.NET pipeline (tokenize → embed →
/// generate) on both engines, and shows continuations, a nearest-neighbour lookup and the parity
/// between the engines.
/// </summary>
internal static class DemoCommand
{
    public static Command Create(CliConsole console)
    {
        var model = new Option<string?>("--model") { Description = $"Checkpoint to demo (default: {ModelLocator.DefaultModelName})." };
        var cache = new Option<string?>("--cache") { Description = "Directory for the ONNX export (default: $MLPIPE_CACHE or ~/.cache/mlpipe)." };
        var command = new Command("demo", "Run one ML.NET pipeline (tokenize, embed, generate) on both engines and compare them.") { model, cache };
        command.SetAction((parse, ct) => Task.FromResult(Run(console, parse.GetValue(model), parse.GetValue(cache), ct)));
        return command;
    }

    private sealed class Row
    {
        public string Text { get; set; } = "";
    }

    private static int Run(CliConsole console, string? modelArg, string? cacheDir, CancellationToken ct)
    {
        var clock = Stopwatch.StartNew();
        var ui = console.CreateAnsiConsole();
        var model = ResolvedModel.Resolve(modelArg);
        string checkpoint = model.Path;
        string exportDir = OnnxExportCache.GetOrExport(model, cacheDir, out bool exported);
        ui.MarkupLine($"[bold]mlpipe demo[/] — {Markup.Escape(Path.GetFileName(checkpoint))} on the managed engine and on ONNX Runtime");
        ui.MarkupLine($"[grey]ONNX export {(exported ? "written to" : "reused from")} {Markup.Escape(exportDir)}[/]");

        string[] dataset = Resource("stories"), queries = Resource("queries");
        var ml = new MLContext(seed: 0);
        IDataView data = ml.Data.LoadFromEnumerable(dataset.Concat(queries).Select(t => new Row { Text = t }).ToList());
        var engines = new[]
        {
            ("managed", LlamaModelReference.Managed(model)),
            ("onnx", LlamaModelReference.Onnx(ResolvedModel.FromSource(new ModelSource(exportDir, ModelFormat.OnnxExport)))),
        };
        var results = engines.Select(e => (Name: e.Item1, Output: RunPipeline(ml, e.Item2, data))).ToList();
        ct.ThrowIfCancellationRequested();

        var (_, managed) = results[0];
        var (_, onnx) = results[1];
        int first = dataset.Length;
        var continuations = new Table().AddColumn("prompt").AddColumn("continuation (greedy, both engines)").AddColumn("same?");
        for (int i = first; i < first + queries.Length; i++)
            continuations.AddRow(Markup.Escape(queries[i - first]), Markup.Escape(managed.Completions[i]),
                managed.Completions[i] == onnx.Completions[i] ? "[green]yes[/]" : "[red]no[/]");
        ui.Write(continuations);

        var neighbours = new Table().AddColumn("query").AddColumn("nearest sample sentence (cosine of mean-pooled embeddings)");
        for (int q = first; q < first + queries.Length; q++)
        {
            int best = Enumerable.Range(0, first).MaxBy(i => Dot(managed.Embeddings[q], managed.Embeddings[i]));
            neighbours.AddRow(Markup.Escape(queries[q - first]),
                $"{Markup.Escape(dataset[best])} [grey]({Dot(managed.Embeddings[q], managed.Embeddings[best]):F3})[/]");
        }
        ui.Write(neighbours);

        // Instances of their own: the references' models are shared with the pipelines and must stay open.
        using LoadedModel a = LanguageModels.Open(engines[0].Item2.Model!, EngineKind.Managed);
        using LoadedModel b = LanguageModels.Open(engines[1].Item2.Model!, EngineKind.Onnx);
        ParityReport parity = ParityHarness.Compare(a.Model, b.Model, a.Tokenizer, queries, new ParityOptions { Steps = 64 }, ct);
        int rows = dataset.Length + queries.Length;
        int sameTokens = Enumerable.Range(0, rows).Count(i => managed.Tokens[i].SequenceEqual(onnx.Tokens[i]));
        int sameText = Enumerable.Range(0, rows).Count(i => managed.Completions[i] == onnx.Completions[i]);
        double minCosine = Enumerable.Range(0, rows).Min(i => Dot(managed.Embeddings[i], onnx.Embeddings[i]));
        var summary = new Table().AddColumn("parity: managed vs ONNX Runtime").AddColumn("result");
        summary.AddRow("token ids identical", $"{sameTokens}/{rows} rows");
        summary.AddRow("greedy completions identical", $"{sameText}/{rows} rows");
        summary.AddRow("embedding cosine (lowest row)", $"{minCosine:F7}");
        summary.AddRow("max |Δlogit| (prompts + 64 greedy steps)", $"{parity.MaxAbsLogitDiff:G3}");
        summary.AddRow("top-1 agreement", $"{parity.Top1Agreement:P1}");
        summary.AddRow("verdict", parity.Passed ? "[green]engines agree[/]" : $"[red]{Markup.Escape(string.Join("; ", parity.Failures))}[/]");
        ui.Write(summary);
        ui.MarkupLine($"[grey]{rows} rows through tokenize → embed → generate on 2 engines in {clock.Elapsed.TotalSeconds:F1} s[/]");
        return parity.Passed ? 0 : 2;
    }

    private sealed record PipelineOutput(List<int[]> Tokens, List<float[]> Embeddings, List<string> Completions);

    private static PipelineOutput RunPipeline(MLContext ml, LlamaModelReference model, IDataView data)
    {
        var pipeline = ml.Transforms.Text.TokenizeWithLlama(model, "Tokens", "Text")
            .Append(ml.Transforms.Text.EmbedWithLlama(model, "Embedding", "Text", new EmbeddingOptions { BatchSize = 16 }))
            .Append(ml.Transforms.Text.GenerateWithLlama(model, "Completion", "Text",
                new LlamaGenerateOptions { MaxNewTokens = 32, StopStrings = ["\n"] }));
        IDataView output = pipeline.Fit(data).Transform(data);
        return new PipelineOutput(
            output.GetColumn<VBuffer<int>>(output.Schema["Tokens"]).Select(v => v.DenseValues().ToArray()).ToList(),
            output.GetColumn<VBuffer<float>>(output.Schema["Embedding"]).Select(v => v.DenseValues().ToArray()).ToList(),
            output.GetColumn<ReadOnlyMemory<char>>(output.Schema["Completion"]).Select(m => m.ToString()).ToList());
    }

    // Embeddings are L2-normalised, so the dot product is the cosine.
    private static double Dot(float[] a, float[] b)
    {
        double sum = 0;
        for (int i = 0; i < a.Length; i++) sum += a[i] * b[i];
        return sum;
    }

    private static string[] Resource(string name)
    {
        using Stream stream = typeof(DemoCommand).Assembly.GetManifestResourceStream($"demo.{name}.txt")
            ?? throw new InvalidOperationException($"The demo's '{name}' sample is missing from the program.");
        using var reader = new StreamReader(stream);
        return reader.ReadToEnd().Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
    }
}
