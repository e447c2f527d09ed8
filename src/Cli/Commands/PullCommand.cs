using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using MlPipelines.Hub;
using MlPipelines.ManagedEngine.Loading;

namespace MlPipelines.Cli.Commands;

/// <summary>
/// <c>mlpipe pull REPO_ID[@REVISION]</c>: downloads a model from the Hugging Face Hub into huggingface_hub's cache
/// (HF_HOME / HF_HUB_CACHE; HF_ENDPOINT, HF_TOKEN and HF_HUB_OFFLINE as in huggingface_hub) and prints the
/// snapshot directory on standard output, so <c>dir=$(mlpipe pull org/name)</c> works in scripts.
/// </summary>
internal static class PullCommand
{
    public static Command Create(CliConsole console)
    {
        var repo = new Argument<string>("repo") { Description = "Hub model id: org/name or org/name@revision (branch, tag or commit)." };
        var include = new Option<string[]>("--include")
        {
            Description = "Download only files matching these globs (fnmatch: '*' also matches '/'), e.g. \"*.gguf\"; " +
                          "replaces the default (config, safetensors weights, tokenizer files).",
            AllowMultipleArgumentsPerToken = true,
        };
        var exclude = new Option<string[]>("--exclude")
        {
            Description = "Leave out files matching these globs (applied after --include).",
            AllowMultipleArgumentsPerToken = true,
        };
        var command = new Command("pull", "Download a model from the Hugging Face Hub into the shared Hugging Face cache.")
        {
            repo, include, exclude,
        };
        command.SetAction(async (parse, ct) =>
        {
            string name = parse.GetValue(repo)!;
            var options = HubOptions.FromEnvironment() with
            {
                Include = parse.GetValue(include) is { Length: > 0 } globs ? globs : null,
                Exclude = parse.GetValue(exclude) is { Length: > 0 } skip ? skip : null,
            };
            using var hub = new HubClient(options);
            var printer = new ProgressPrinter(console.Error, IsErrorTerminal(console));
            PullResult result;
            try
            {
                result = await hub.PullAsync(name, printer, ct);
            }
            catch (OperationCanceledException) when (ct.IsCancellationRequested)
            {
                printer.EndLine();
                console.Error.WriteLine("mlpipe: pull cancelled; run it again to resume");
                return 130;
            }
            printer.EndLine();
            if (result.FromCache)
                console.Error.WriteLine($"offline: {result.RepoId}@{result.Revision} found in the cache ({result.Files.Count} files)");
            else
                console.Error.WriteLine($"pulled {result.RepoId}@{result.Revision} (commit {result.Commit[..12]}): {result.Files.Count} files, " +
                                        $"{ByteSize.Format(result.DownloadedBytes)} downloaded");
            string modelName = result.Revision == HuggingFaceCache.DefaultRevision ? result.RepoId : $"{result.RepoId}@{result.Revision}";
            console.Error.WriteLine($"use it with --model {modelName}");
            console.Out.WriteLine(result.SnapshotDirectory);
            return 0;
        });
        return command;
    }

    // Live progress only when standard error is the process's own, undirected stream (not a test's writer or a log).
    private static bool IsErrorTerminal(CliConsole console) =>
        ReferenceEquals(console.Error, Console.Error) && !Console.IsErrorRedirected;

    /// <summary>
    /// Prints pull progress: on a terminal one live line per file (bytes, rate, ETA) rewritten in place with '\r';
    /// otherwise one plain line per file when it is done, so logs stay readable.
    /// </summary>
    private sealed class ProgressPrinter(TextWriter error, bool live) : IProgress<PullProgress>
    {
        private readonly Stopwatch _clock = new();
        private long _startBytes;
        private int _lineLength;

        public void Report(PullProgress p)
        {
            switch (p.Kind)
            {
                case PullProgressKind.Resolved:
                    error.WriteLine($"commit {p.Message}: {p.FileCount} file{(p.FileCount == 1 ? "" : "s")}, " +
                                    $"{ByteSize.Format(p.TotalBytes ?? 0)} to download");
                    break;
                case PullProgressKind.Started:
                    _clock.Restart();
                    _startBytes = p.BytesDone;
                    if (live) Rewrite(Line(p));
                    else if (p.BytesDone > 0) error.WriteLine($"{Prefix(p)}resuming after {ByteSize.Format(p.BytesDone)}");
                    break;
                case PullProgressKind.Downloading:
                    if (live) Rewrite(Line(p));
                    break;
                case PullProgressKind.Retrying:
                    EndLine();
                    error.WriteLine($"{(p.FileName.Length > 0 ? Prefix(p) : "")}retrying: {p.Message}");
                    break;
                case PullProgressKind.Completed:
                    double seconds = Math.Max(_clock.Elapsed.TotalSeconds, 1e-3);
                    long fetched = Math.Max(0, p.BytesDone - _startBytes);
                    Finish($"{Prefix(p)}{ByteSize.Format(p.BytesDone)} in {seconds.ToString("0.0", CultureInfo.InvariantCulture)} s " +
                           $"({ByteSize.Format(fetched / seconds)}/s)");
                    break;
                case PullProgressKind.Cached:
                    Finish($"{Prefix(p)}{ByteSize.Format(p.BytesDone)} (already in the cache)");
                    break;
            }
        }

        /// <summary>Ends a live line so the next output starts on a fresh one.</summary>
        public void EndLine()
        {
            if (_lineLength == 0) return;
            error.WriteLine();
            _lineLength = 0;
        }

        private static string Prefix(PullProgress p) => $"[{p.FileIndex}/{p.FileCount}] {p.FileName}  ";

        private string Line(PullProgress p)
        {
            double seconds = _clock.Elapsed.TotalSeconds;
            double rate = seconds > 0.2 ? (p.BytesDone - _startBytes) / seconds : 0;
            string total = p.TotalBytes is long t ? $" / {ByteSize.Format(t)}" : "";
            string percent = p.TotalBytes is long size and > 0 ? $" {100.0 * p.BytesDone / size,5:0.0}%" : "";
            string eta = rate > 0 && p.TotalBytes is long all
                ? $"  ETA {TimeSpan.FromSeconds(Math.Ceiling((all - p.BytesDone) / rate)):hh\\:mm\\:ss}"
                : "";
            string speed = rate > 0 ? $"  {ByteSize.Format(rate)}/s" : "";   // no rate until a fair sample
            return $"{Prefix(p)}{ByteSize.Format(p.BytesDone)}{total}{percent}{speed}{eta}";
        }

        private void Finish(string line)
        {
            if (live)
            {
                Rewrite(line);
                EndLine();
            }
            else
            {
                error.WriteLine(line);
            }
        }

        private void Rewrite(string line)
        {
            int width = TerminalWidth();
            if (line.Length >= width) line = line[..(width - 1)];   // a wrapped line could not be rewritten in place
            error.Write("\r" + line.PadRight(_lineLength));
            error.Flush();
            _lineLength = Math.Max(line.Length, 1);
        }

        private static int TerminalWidth()
        {
            try
            {
                return Console.WindowWidth > 10 ? Console.WindowWidth : 80;
            }
            catch (IOException)
            {
                return 80;
            }
        }
    }
}
