using System.CommandLine;
using System.Globalization;
using MlPipelines.Jobs.EmbedJobs;
using MlPipelines.ManagedEngine.Embeddings;
using MlPipelines.ManagedEngine.Loading;
using MlPipelines.OnnxEngine;
using Spectre.Console;
using Spectre.Console.Rendering;

namespace MlPipelines.Cli.Commands;

/// <summary>
/// <c>mlpipe embed</c>: embeds every text of a file (plain lines, CSV column, JSON Lines field) into CSV,
/// JSON Lines or Parquet, resumably (see docs/embed.md). Progress goes to stderr: a bar on a terminal,
/// plain lines otherwise.
/// </summary>
internal static class EmbedCommand
{
    /// <summary>Exit code of an interrupted run (128 + SIGINT, as shells report it).</summary>
    private const int InterruptedExitCode = 130;

    public static Command Create(CliConsole console)
    {
        var input = new Option<string?>("--input", "-i") { Description = "Texts to embed: .txt (one per line), .csv (with a header) or .jsonl (required unless --status or --cancel)." };
        var output = new Option<string?>("--output", "-o") { Description = "Where to write: .csv, .jsonl or .parquet (required unless --status or --cancel)." };
        var model = new Option<string?>("--model") { Description = $"Model file, directory or name (default: {ModelLocator.DefaultModelName})." };
        var tokenizer = new Option<string?>("--tokenizer", "-z") { Description = "Tokenizer file; default: the one beside the model." };
        var column = new Option<string>("--column") { Description = "CSV column or JSON field holding the texts.", DefaultValueFactory = _ => EmbedInputs.DefaultColumn };
        var inputFormat = new Option<string?>("--input-format") { Description = "text, csv or jsonl (default: from the input's extension)." };
        var outputFormat = new Option<string?>("--output-format") { Description = "csv, jsonl or parquet (default: from the output's extension)." };
        var pooling = new Option<string>("--pooling") { Description = "How token states become one vector: mean, last or first.", DefaultValueFactory = _ => "mean" };
        var noNormalize = new Option<bool>("--no-normalize") { Description = "Keep the pooled vectors as they are instead of scaling them to unit length." };
        var maxTokens = new Option<int>("--max-tokens") { Description = "Truncate texts to this many tokens, BOS included; 0 = the model's context." };
        var batchSize = new Option<int>("--batch-size") { Description = "Texts run through the engine together.", DefaultValueFactory = _ => 16 };
        var restart = new Option<bool>("--restart", "--force") { Description = "Start over: discard an unfinished job's progress, or replace a finished output." };
        inputFormat.AcceptOnlyFromAmong("text", "txt", "csv", "jsonl", "json");
        outputFormat.AcceptOnlyFromAmong("csv", "jsonl", "json", "parquet");
        pooling.AcceptOnlyFromAmong("mean", "last", "first");
        var engine = new EngineArguments();
        var distributed = new DistributedEmbedArguments();

        var command = new Command("embed", "Embed the texts of a file (txt, csv, jsonl) into csv, jsonl or parquet; resumable, or spread over a cluster with --cluster.")
        {
            input, output, model, tokenizer, column, inputFormat, outputFormat, pooling, noNormalize, maxTokens, batchSize, restart,
        };
        engine.AddTo(command);
        distributed.AddTo(command);
        command.SetAction(async (parse, cancellationToken) =>
        {
            if (distributed.IsStatusOrCancel(parse))
                return await distributed.StatusOrCancelAsync(parse, console);
            if (parse.GetValue(input) is null && !distributed.IsMerge(parse))
                throw new ArgumentException("--input is required: the file whose texts to embed.");
            if (parse.GetValue(output) is null)
                throw new ArgumentException("--output is required: the file to write the vectors to.");
            if (distributed.IsMerge(parse))
                return await distributed.MergeAsync(parse, console, parse.GetValue(output)!, parse.GetValue(restart), cancellationToken);
            var embedding = new EmbeddingOptions
            {
                Pooling = parse.GetValue(pooling) switch { "last" => Pooling.LastToken, "first" => Pooling.FirstToken, _ => Pooling.Mean },
                Normalize = !parse.GetValue(noNormalize),
                MaxTokens = parse.GetValue(maxTokens),
                BatchSize = parse.GetValue(batchSize),
            };
            embedding.Validate();
            string? modelArg = parse.GetValue(model);
            string? tokenizerArg = parse.GetValue(tokenizer);
            var job = new EmbedJobOptions
            {
                InputPath = parse.GetValue(input)!,
                OutputPath = parse.GetValue(output)!,
                InputFormat = parse.GetValue(inputFormat) is { } i ? EmbedFormats.ParseInput(i) : null,
                OutputFormat = parse.GetValue(outputFormat) is { } o ? EmbedFormats.ParseOutput(o) : null,
                Column = parse.GetValue(column)!,
                Restart = parse.GetValue(restart),
            };
            job.Validate();   // argument mistakes before the model loads
            if (!File.Exists(job.InputPath))
                throw new FileNotFoundException($"Input file '{job.InputPath}' not found.", job.InputPath);
            if (distributed.IsCluster(parse))
                return await distributed.SubmitAsync(parse, console, job, embedding, modelArg, tokenizerArg, engine.Read(parse).Engine, cancellationToken);

            using LoadedModel loaded = engine.Open(parse, console, modelArg, tokenizerArg);
            job = job with { ModelIdentity = JobFingerprint.DescribeModel(loaded) };
            var embedder = new Embedder(loaded.Model, loaded.Tokenizer, embedding);
            return await RunAsync(console, embedder, job, cancellationToken);
        });
        return command;
    }

    private static async Task<int> RunAsync(CliConsole console, Embedder embedder, EmbedJobOptions job, CancellationToken ct)
    {
        EmbedJobResult result;
        try
        {
            // A redrawn bar only where a person watches; logs and pipes get lines they can read later.
            bool terminal = ReferenceEquals(console.Error, Console.Error) && !Console.IsErrorRedirected;
            result = terminal ? await RunWithBarAsync(embedder, job, ct) : await EmbedJob.RunAsync(embedder, job, new EmbedProgressPrinter(console.Error), ct);
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
            console.Error.WriteLine("mlpipe: interrupted before any row was embedded.");
            return InterruptedExitCode;
        }
        if (result.Cancelled)
        {
            console.Error.WriteLine(string.Format(CultureInfo.InvariantCulture,
                "mlpipe: interrupted: {0:N0} rows are committed ({1}). Run the same command again to resume, or add --restart to start over.",
                result.Rows, result.ProgressFilePath));
            return InterruptedExitCode;
        }
        console.Error.WriteLine(EmbedProgressPrinter.Summary(result));
        return 0;
    }

    private static async Task<EmbedJobResult> RunWithBarAsync(Embedder embedder, EmbedJobOptions job, CancellationToken ct)
    {
        IAnsiConsole stderr = AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(Console.Error) });
        var rate = new RateColumn();
        EmbedJobResult result = await stderr.Progress()
            .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), rate)
            .StartAsync(async context =>
            {
                ProgressTask task = context.AddTask("embedding", autoStart: true, maxValue: 1);
                var progress = new SynchronousProgress(p =>
                {
                    rate.Current = p;
                    task.MaxValue = Math.Max(1, p.TotalRows ?? p.Rows);
                    task.Value = p.Rows;
                });
                EmbedJobResult r = await EmbedJob.RunAsync(embedder, job, progress, ct);
                if (!r.Cancelled) task.Value = task.MaxValue;
                return r;
            });
        return result;
    }

    /// <summary>Calls back on the reporting thread (<see cref="Progress{T}"/> would post to the thread pool, out of order).</summary>
    private sealed class SynchronousProgress(Action<EmbedProgress> report) : IProgress<EmbedProgress>
    {
        public void Report(EmbedProgress value) => report(value);
    }

    /// <summary>Rows per second and time remaining from the job's own numbers (the bar's speed would count resumed rows).</summary>
    private sealed class RateColumn : ProgressColumn
    {
        public EmbedProgress? Current { get; set; }

        public override IRenderable Render(RenderOptions options, ProgressTask task, TimeSpan deltaTime)
        {
            if (Current is not { } p)
                return new Text("counting rows…");
            string eta = p.Remaining is { } r ? "  ETA " + EmbedProgressPrinter.FormatDuration(r) : "";
            return new Text(string.Format(CultureInfo.InvariantCulture, "{0:N0}/{1} rows  {2:N0} rows/s{3}",
                p.Rows, p.TotalRows is { } t ? t.ToString("N0", CultureInfo.InvariantCulture) : "?", p.RowsPerSecond, eta));
        }
    }
}
