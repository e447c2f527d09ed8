using System.CommandLine;
using System.Globalization;
using MlPipelines.Exporter;
using MlPipelines.Jobs.Benchmarks;
using MlPipelines.ManagedEngine.Formats;
using MlPipelines.ManagedEngine.Loading;
using MlPipelines.ManagedEngine.Model;
using MlPipelines.OnnxEngine;

namespace MlPipelines.Cli.Commands;

/// <summary>
/// <c>mlpipe bench</c>: decode and prefill tokens/s of an engine at several thread counts, with the machine
/// recorded beside the numbers, and per row the weights as run, resident memory after loading and the peak during the runs. Progress goes to stderr; the table (Markdown) to stdout; --json writes the report.
/// </summary>
internal static class BenchCommand
{
    public static Command Create(CliConsole console)
    {
        var defaults = new BenchmarkOptions();
        string defaultThreads = Environment.ProcessorCount > 1 ? $"1,{Environment.ProcessorCount}" : "1";
        var model = new Option<string?>("--model") { Description = $"Checkpoint, export directory or model name (default: {ModelLocator.DefaultModelName})." };
        var shape = new Option<string?>("--shape") { Description = $"Measure a random-weight checkpoint of a named shape instead: {string.Join(", ", ModelShapes.Names)}." };
        var tokenizer = new Option<string?>("--tokenizer", "-z") { Description = "Tokenizer for exporting a checkpoint to ONNX (speed does not depend on it)." };
        var engine = new Option<string>("--engine") { Description = "managed, onnx, or both as managed,onnx.", DefaultValueFactory = _ => "managed" };
        var threads = new Option<string>("--threads") { Description = "Comma-separated thread counts: the managed engine's threads, ONNX Runtime's intra-op threads.", DefaultValueFactory = _ => defaultThreads };
        var decode = new Option<int>("--decode-tokens") { Description = "Tokens generated one at a time per decode run.", DefaultValueFactory = _ => defaults.DecodeTokens };
        var prompt = new Option<int>("--prompt-tokens") { Description = "Prompt tokens forwarded (untimed) before decoding.", DefaultValueFactory = _ => defaults.PromptTokens };
        var prefill = new Option<string?>("--prefill") { Description = "Comma-separated prefill chunk lengths (default: those of 128,512 that fit the context)." };
        var runs = new Option<int>("--runs") { Description = "Measured runs; the table shows their median and min–max.", DefaultValueFactory = _ => defaults.Runs };
        var warmup = new Option<double>("--warmup") { Description = "Least warm-up seconds per engine and thread count (continues until timings settle; 0 = none).", DefaultValueFactory = _ => defaults.WarmupSeconds };
        var seed = new Option<int>("--seed") { Description = "Seed of the random token ids.", DefaultValueFactory = _ => defaults.Seed };
        var quantize = new Option<string?>("--quantize") { Description = $"Weight quantization: {string.Join(", ", BenchmarkModel.KnownQuantizations)} (default: fp32)." };
        var json = new Option<string?>("--json") { Description = "Also write the report as JSON to this file." };
        var profile = ExportWeights.ProfileOption("ONNX export of a checkpoint: portable (default) or fused (ONNX Runtime's contrib operators; alias genai).");
        var weightsOption = ExportWeights.WeightsOption(
            "ONNX export of a checkpoint: fp32 (default), fp16, int4, int4-asym or int8 (all but fp32 need --profile fused).");

        var command = new Command("bench", "Measure decode and prefill speed (tokens/s) of an engine at several thread counts, with its memory and weight format.")
        {
            model, shape, tokenizer, engine, threads, decode, prompt, prefill, runs, warmup, seed, quantize, json, profile, weightsOption,
        };
        command.SetAction((parse, ct) =>
        {
            string? modelArg = parse.GetValue(model), shapeArg = parse.GetValue(shape), quantization = parse.GetValue(quantize);
            if (modelArg is not null && shapeArg is not null)
                throw new ArgumentException("Give --model or --shape, not both.");
            EngineKind[] engines = ParseEngines(parse.GetValue(engine)!);
            int[] threadCounts = ParseList("--threads", parse.GetValue(threads)!);
            string? prefillArg = parse.GetValue(prefill);
            int[]? prefillLengths = prefillArg is null ? null : ParseList("--prefill", prefillArg);
            CheckCounts(parse.GetValue(runs), parse.GetValue(decode), parse.GetValue(prompt), parse.GetValue(warmup));
            foreach (var kind in engines)
                BenchmarkModel.CheckQuantization(kind, quantization);
            OnnxExportProfile exportProfile = ExportWeights.Profile(parse.GetValue(profile)!);
            OnnxWeightPrecision exportWeights = ExportWeights.Parse(parse.GetValue(weightsOption)!);
            ExportWeights.Check(exportProfile, exportWeights);
            string? jsonPath = parse.GetValue(json);
            CheckOutputDirectory(jsonPath);

            // The context is checked before a shape is synthesized or a model exported: both take a while.
            BenchmarkModel? named = shapeArg is null ? BenchmarkModel.FromPath(modelArg, parse.GetValue(tokenizer), null) : null;
            named?.ExportAs(exportProfile, exportWeights);   // before anything slow: an export directory refuses other weights
            ModelConfig config = named?.Config
                ?? ModelShapes.Get(shapeArg!) with { MaxSequenceLength = Math.Max(ModelShapes.Get(shapeArg!).MaxSequenceLength, BenchmarkModel.MinBenchmarkContext) };
            var options = new BenchmarkOptions
            {
                DecodeTokens = parse.GetValue(decode),
                PromptTokens = parse.GetValue(prompt),
                PrefillLengths = prefillLengths ?? BenchmarkOptions.DefaultPrefillLengthsFor(config.MaxSequenceLength),
                Runs = parse.GetValue(runs),
                WarmupSeconds = parse.GetValue(warmup),
                Seed = parse.GetValue(seed),
            };
            CheckContext(options, config);

            if (!BuildInfo.IsOptimized)
                console.Error.WriteLine("mlpipe: warning: this is a Debug build; its numbers are not representative (use dotnet run -c Release).");
            BenchmarkModel subject = named ?? Synthesize(shapeArg!, console);
            subject.ExportAs(exportProfile, exportWeights);

            BenchmarkReport report = Measure(subject, shapeArg is not null, engines, threadCounts, options, quantization, console, ct) with
            {
                Command = "mlpipe " + string.Join(' ', parse.Tokens.Select(t => t.Value)),
            };
            if (jsonPath is not null)
                report.WriteJson(jsonPath);
            report.WriteTable(console.Out);
            return Task.FromResult(0);
        });
        return command;
    }

    private static BenchmarkModel Synthesize(string shape, CliConsole console)
    {
        BenchmarkModel subject = BenchmarkModel.FromShape(shape, null, out bool synthesized);
        if (synthesized)
            console.Error.WriteLine($"bench: synthesized {subject.Checkpoint}");
        return subject;
    }

    private static BenchmarkReport Measure(BenchmarkModel subject, bool synthetic, EngineKind[] engines, int[] threadCounts,
        BenchmarkOptions options, string? quantization, CliConsole console, CancellationToken ct)
    {
        var targets = new List<BenchmarkTarget>();
        try
        {
            foreach (var kind in engines)
                foreach (int count in threadCounts)
                    targets.Add(subject.OpenTarget(kind, count, quantization));
            var rows = EngineBenchmark.Run(targets, options, line => console.Error.WriteLine("bench: " + line), ct);
            return new BenchmarkReport
            {
                Date = DateTimeOffset.Now,
                Machine = MachineInfo.Current(),
                Model = subject.Describe(synthetic),
                Quantization = quantization,
                Options = options,
                Rows = rows,
            };
        }
        finally
        {
            foreach (var target in targets)
                target.Model.Dispose();
        }
    }

    private static EngineKind[] ParseEngines(string value) =>
        value.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries).Select(name => name.ToLowerInvariant() switch
        {
            "managed" => EngineKind.Managed,
            "onnx" => EngineKind.Onnx,
            _ => throw new ArgumentException($"--engine takes managed, onnx or managed,onnx; '{name}' is not an engine."),
        }).Distinct().DefaultIfEmpty(EngineKind.Managed).ToArray();

    // "1,2" → [1, 2]: whole numbers ≥ 1, duplicates dropped, order kept (it is the order of the runs).
    private static int[] ParseList(string flag, string value)
    {
        var items = value.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries);
        var numbers = new List<int>();
        foreach (string item in items)
        {
            if (!int.TryParse(item, NumberStyles.None, CultureInfo.InvariantCulture, out int n) || n < 1)
                throw new ArgumentException($"{flag} takes comma-separated whole numbers ≥ 1 (like 1,2); '{item}' is not one.");
            if (!numbers.Contains(n))
                numbers.Add(n);
        }
        return numbers.Count > 0 ? numbers.ToArray() : throw new ArgumentException($"{flag} needs at least one number (like 1,2).");
    }

    private static void CheckCounts(int runs, int decode, int prompt, double warmup)
    {
        if (runs < 1)
            throw new ArgumentException($"--runs must be at least 1, not {runs}.");
        if (decode < 1)
            throw new ArgumentException($"--decode-tokens must be at least 1, not {decode}.");
        if (prompt < 1)
            throw new ArgumentException($"--prompt-tokens must be at least 1, not {prompt}.");
        if (!(warmup >= 0 && warmup <= new BenchmarkOptions().MaxWarmupSeconds))
            throw new ArgumentException($"--warmup must be between 0 and {new BenchmarkOptions().MaxWarmupSeconds} seconds, not {warmup.ToString(CultureInfo.InvariantCulture)}.");
    }

    private static void CheckContext(BenchmarkOptions o, ModelConfig config)
    {
        int context = config.MaxSequenceLength;
        if (o.PrefillLengths.Count == 0)
            throw new ArgumentException($"The default prefill lengths do not fit the model's context of {context} tokens; name some with --prefill.");
        foreach (int length in o.PrefillLengths)
            if (length > context)
                throw new ArgumentException($"--prefill {length} is longer than the model's context of {context} tokens.");
        if (o.PromptTokens + o.DecodeTokens > context)
            throw new ArgumentException(
                $"--prompt-tokens {o.PromptTokens} + --decode-tokens {o.DecodeTokens} exceed the model's context of {context} tokens.");
    }

    private static void CheckOutputDirectory(string? path)
    {
        if (path is null) return;
        string directory = Path.GetDirectoryName(Path.GetFullPath(path)) ?? ".";
        if (!Directory.Exists(directory))
            throw new DirectoryNotFoundException($"Cannot write the report '{path}': the directory '{directory}' does not exist.");
    }
}
