using System.CommandLine;
using System.Globalization;
using MlPipelines.ManagedEngine.Loading;
using MlPipelines.ManagedEngine.Parity;
using MlPipelines.OnnxEngine;

namespace MlPipelines.Cli.Commands;

/// <summary>
/// <c>mlpipe parity</c>: the managed engine on a checkpoint against ONNX Runtime on its export, over a
/// file of prompts. Exit code 0 when every threshold holds, 2 when one is exceeded (so it can gate CI),
/// 1 for errors.
/// </summary>
internal static class ParityCommand
{
    /// <summary>The exit code when the comparison ran but a threshold was exceeded.</summary>
    public const int ThresholdExceeded = 2;

    public static Command Create(CliConsole console)
    {
        var defaults = new ParityOptions();
        var model = new Option<string?>("--model") { Description = $"Checkpoint for the managed engine: file, directory or name (default: {ModelLocator.DefaultModelName})." };
        var onnx = new Option<string>("--onnx") { Description = "ONNX export for ONNX Runtime: a directory written by `mlpipe export` or by another tool (Optimum, onnxruntime-genai's builder, a Hub repository's onnx/ folder: its config.json or genai_config.json and tokenizer beside it), or the decoder's .onnx file.", Required = true };
        var prompts = new Option<string>("--prompts") { Description = "Text file with one prompt per line (blank lines are ignored).", Required = true };
        var steps = new Option<int>("--steps", "-n") { Description = "Greedy tokens to compare after each prompt (capped by the context); 0 = up to the context.", DefaultValueFactory = _ => defaults.Steps };
        var maxAbsDiff = new Option<double>("--max-abs-diff") { Description = "Largest absolute logit difference allowed.", DefaultValueFactory = _ => defaults.MaxAbsLogitDiff };
        var minCosine = new Option<double>("--min-cosine") { Description = "Smallest embedding cosine similarity allowed.", DefaultValueFactory = _ => defaults.MinCosine };
        var allowDivergence = new Option<bool>("--allow-greedy-divergence") { Description = "Do not fail when greedy continuations differ (still reported)." };
        var json = new Option<string?>("--json") { Description = "Also write the full report as JSON to this file." };
        var tokenizer = new Option<string?>("--tokenizer", "-z") { Description = "Tokenizer for both engines (default: the one beside the checkpoint)." };
        var provider = new Option<string>("--provider") { Description = "ONNX Runtime execution provider: cpu, cuda or dml.", DefaultValueFactory = _ => "cpu" };
        provider.AcceptOnlyFromAmong("cpu", "cuda", "dml");
        var device = new Option<int>("--device") { Description = "GPU device id for cuda or dml." };
        var fallback = new Option<bool>("--fallback-to-cpu") { Description = "Run ONNX Runtime on the CPU when the requested provider is unavailable." };
        var threads = new Option<int>("--threads") { Description = "Threads inside an ONNX Runtime operator (0 = ONNX Runtime's default)." };

        var command = new Command("parity", "Compare the managed engine with ONNX Runtime on the same model: logits, greedy text, embeddings.")
        {
            model, onnx, prompts, steps, maxAbsDiff, minCosine, allowDivergence, json, tokenizer, provider, device, fallback, threads,
        };
        command.SetAction((parse, ct) =>
        {
            var options = new ParityOptions
            {
                Steps = parse.GetValue(steps),
                MaxAbsLogitDiff = parse.GetValue(maxAbsDiff),
                MinCosine = parse.GetValue(minCosine),
                RequireIdenticalGreedy = !parse.GetValue(allowDivergence),
            };
            CheckArguments(options);
            string[] texts = ReadPrompts(parse.GetValue(prompts)!);
            string? jsonPath = parse.GetValue(json);
            CheckOutputDirectory(jsonPath);
            var onnxOptions = new EngineOptions
            {
                Provider = EngineArguments.ParseProvider(parse.GetValue(provider)),
                DeviceId = parse.GetValue(device),
                FallbackToCpu = parse.GetValue(fallback),
                Threads = parse.GetValue(threads),
            };
            // The ONNX directory is checked first: it is the argument most likely to be wrong, and loading it is cheap.
            using OnnxLanguageModel onnxModel = OnnxLanguageModel.Load(parse.GetValue(onnx)!, onnxOptions);
            if (onnxModel.Description.Notice is { } notice)
                console.Error.WriteLine($"mlpipe: warning: {notice}");
            console.Out.WriteLine($"ONNX contract: {onnxModel.Contract}" + (onnxModel.Manifest.Profile == "foreign" ? $" (no mlpipe.json: {Path.GetFileName(onnxModel.ModelFile)}, configuration from {onnxModel.Manifest.Source})" : ""));
            using LoadedModel managed = LanguageModels.Open(parse.GetValue(model), parse.GetValue(tokenizer), EngineKind.Managed);

            ParityReport report = ParityHarness.Compare(managed.Model, onnxModel, managed.Tokenizer, texts, options, ct);
            if (jsonPath is not null)
                report.WriteJson(jsonPath);
            report.WriteText(console.Out);
            return Task.FromResult(report.Passed ? 0 : ThresholdExceeded);
        });
        return command;
    }

    /// <summary>One line per prompt; blank lines are skipped so a trailing newline or spacing does not add empty prompts.</summary>
    internal static string[] ReadPrompts(string path)
    {
        if (!File.Exists(path))
            throw new FileNotFoundException($"The prompts file '{path}' does not exist.", path);
        string[] prompts = File.ReadAllLines(path).Where(line => !string.IsNullOrWhiteSpace(line)).ToArray();
        if (prompts.Length == 0)
            throw new ArgumentException($"The prompts file '{path}' holds no prompts (one per line; blank lines are ignored).");
        return prompts;
    }

    // Before the comparison runs, so a typo in --json does not cost a whole run.
    private static void CheckOutputDirectory(string? path)
    {
        if (path is null) return;
        string directory = Path.GetDirectoryName(Path.GetFullPath(path)) ?? ".";
        if (!Directory.Exists(directory))
            throw new DirectoryNotFoundException($"Cannot write the report '{path}': the directory '{directory}' does not exist.");
    }

    // Checked here rather than by ParityOptions.Validate so each message names the flag and fits on one line.
    private static void CheckArguments(ParityOptions o)
    {
        if (o.Steps < 0)
            throw new ArgumentException($"--steps must be ≥ 0 (0 = up to the context), not {o.Steps}.");
        if (!(o.MaxAbsLogitDiff >= 0) || double.IsPositiveInfinity(o.MaxAbsLogitDiff))
            throw new ArgumentException($"--max-abs-diff must be a finite number ≥ 0, not {o.MaxAbsLogitDiff.ToString(CultureInfo.InvariantCulture)}.");
        if (!(o.MinCosine >= -1 && o.MinCosine <= 1))
            throw new ArgumentException($"--min-cosine must lie in [-1, 1], not {o.MinCosine.ToString(CultureInfo.InvariantCulture)}.");
    }
}
