using System.CommandLine;
using System.Globalization;
using MlPipelines.Cluster.Contracts;
using MlPipelines.Cluster.Hosting;
using MlPipelines.Jobs.EmbedJobs;
using MlPipelines.Jobs.EmbedJobs.Shards;
using MlPipelines.ManagedEngine.Embeddings;
using MlPipelines.OnnxEngine;

namespace MlPipelines.Cli.Commands;

/// <summary>
/// <c>mlpipe embed --cluster</c> and its companions: submit a job to a cluster of <c>mlpipe silo</c>s and follow it to
/// the merged file; <c>--status</c>/<c>--cancel</c> a job; <c>--merge</c> a finished job's parts (docs/cluster.md).
/// </summary>
internal sealed class DistributedEmbedArguments
{
    /// <summary>Exit code when the client stops following a job that goes on (128 + SIGINT, as shells report it).</summary>
    private const int DetachedExitCode = 130;

    private readonly Option<string?> _cluster = new("--cluster") { Description = "Submit the job to this cluster (its --cluster-id) instead of embedding here." };
    private readonly Option<string> _gateways = new("--gateways") { Description = "Localhost clustering: the silos' gateway ports, separated by commas.", DefaultValueFactory = _ => "30000" };
    private readonly Option<long> _shardRows = new("--shard-rows") { Description = "Rows per shard of a cluster job (rounded up to a multiple of --batch-size).", DefaultValueFactory = _ => 4096 };
    private readonly Option<string?> _status = new("--status") { Description = "Show a cluster job's progress (its id, as printed when submitted)." };
    private readonly Option<string?> _cancel = new("--cancel") { Description = "Cancel a cluster job (its id)." };
    private readonly Option<bool> _merge = new("--merge") { Description = "Merge a finished cluster job's parts (OUTPUT.shards/) into OUTPUT, without the cluster." };
    private readonly ClusterArguments _clusterArguments = new();

    public void AddTo(Command command)
    {
        command.Add(_cluster);
        command.Add(_gateways);
        command.Add(_shardRows);
        command.Add(_status);
        command.Add(_cancel);
        command.Add(_merge);
        _clusterArguments.AddTo(command);
    }

    public bool IsCluster(ParseResult parse) => parse.GetValue(_cluster) is not null;
    public bool IsMerge(ParseResult parse) => parse.GetValue(_merge);
    public bool IsStatusOrCancel(ParseResult parse) => parse.GetValue(_status) is not null || parse.GetValue(_cancel) is not null;

    public async Task<int> StatusOrCancelAsync(ParseResult parse, CliConsole console)
    {
        await using EmbedClusterClient client = await ConnectAsync(parse);
        ClusterJobStatus status = parse.GetValue(_cancel) is { } cancel ? await client.CancelAsync(cancel) : await client.StatusAsync(parse.GetValue(_status)!);
        if (status.State == ClusterJobState.Unknown)
            throw new ArgumentException($"The cluster '{parse.GetValue(_cluster)}' has no job '{status.JobId}'.");
        console.Out.WriteLine(Describe(status));
        foreach (WorkerStats w in status.Workers)
            console.Out.WriteLine(string.Format(CultureInfo.InvariantCulture, "  {0}: {1:N0} shards, {2:N0} rows, {3:N0} rows/s", w.Worker, w.Shards, w.Rows, w.RowsPerSecond));
        if (status.Error is { } error) console.Out.WriteLine($"  last error: {error}");
        return 0;
    }

    public async Task<int> MergeAsync(ParseResult parse, CliConsole console, string output, bool overwrite, CancellationToken ct)
    {
        string parts = EmbedClusterClient.PartsDirectoryFor(output);
        long rows = await EmbedShardMerger.MergeAsync(parts, output, overwrite, ct);
        console.Error.WriteLine($"embed: merged {rows:N0} rows from {parts} -> {output}");
        return 0;
    }

    public async Task<int> SubmitAsync(ParseResult parse, CliConsole console, EmbedJobOptions job, EmbeddingOptions embedding,
        string? model, string? tokenizer, EngineKind engine, CancellationToken ct)
    {
        if (File.Exists(job.OutputPath) && !job.Restart)
            throw new IOException($"{job.OutputPath} already exists; add --restart to replace it.");
        var settings = new ClusterEmbedJobSpec
        {
            InputPath = job.InputPath,
            InputFormat = "",
            PartsDirectory = "",
            OutputFormat = "",
            // Silos run elsewhere (another folder, another machine): a path that exists here is passed whole.
            Model = Absolute(model),
            Tokenizer = Absolute(tokenizer),
            Engine = engine.ToString(),
            Pooling = embedding.Pooling.ToString(),
            Normalize = embedding.Normalize,
            MaxTokens = embedding.MaxTokens,
            BatchSize = embedding.BatchSize,
            ShardRows = parse.GetValue(_shardRows),
        };
        ClusterEmbedJobSpec spec = EmbedClusterClient.Plan(job, settings, ct);
        string jobId = EmbedClusterClient.JobIdFor(job.InputPath, job.OutputPath);

        await using EmbedClusterClient client = await ConnectAsync(parse);
        ClusterJobStatus status = await client.SubmitAsync(jobId, spec, job.Restart);
        console.Error.WriteLine($"embed: job {jobId} on cluster '{parse.GetValue(_cluster)}': {status.Shards:N0} shards of up to {spec.Plan().FirstOrDefault()?.Rows ?? 0:N0} rows, {spec.TotalRows:N0} rows; parts in {spec.PartsDirectory}");
        console.Error.Flush();
        var clock = System.Diagnostics.Stopwatch.StartNew();
        DateTime lastLine = DateTime.MinValue;
        var progress = new SynchronousProgress(s =>
        {
            if (DateTime.UtcNow - lastLine < TimeSpan.FromSeconds(2) && s.State == ClusterJobState.Running) return;
            lastLine = DateTime.UtcNow;
            console.Error.WriteLine(Describe(s));
            console.Error.Flush();
        });
        try
        {
            status = await client.WaitAsync(jobId, progress, TimeSpan.FromMilliseconds(250), cancellationToken: ct);
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
            console.Error.WriteLine($"mlpipe: stopped following job {jobId}; it goes on in the cluster. Run the same command to follow it again, or --cancel {jobId} to stop it.");
            return DetachedExitCode;
        }
        if (status.State != ClusterJobState.Completed)
        {
            console.Error.WriteLine($"mlpipe: error: job {jobId} {status.State.ToString().ToLowerInvariant()}{(status.Error is { } e ? $": {e}" : "")}");
            return 1;
        }
        // The job's own time (submission to its last shard, by the job grain's clock) when the cluster reports it;
        // what this client saw also counts up to one poll interval of waiting to notice the end.
        double seen = clock.Elapsed.TotalSeconds;
        double seconds = status.Duration?.TotalSeconds ?? seen;
        long rows = await EmbedClusterClient.MergeAsync(status, job.OutputPath, overwrite: true, ct);
        console.Error.WriteLine(string.Format(CultureInfo.InvariantCulture, "embed: {0:N0} rows by {1} silo(s) in {2:F1} s, {3:N0} rows/s -> {4} (followed here for {5:F1} s; the merge not counted)",
            rows, status.Workers.Count, seconds, rows / Math.Max(seconds, 1e-9), job.OutputPath, seen));
        return 0;
    }

    private async Task<EmbedClusterClient> ConnectAsync(ParseResult parse)
    {
        string cluster = parse.GetValue(_cluster) ?? throw new ArgumentException("--status and --cancel need --cluster: the cluster the job runs on.");
        EmbedClusterOptions options = _clusterArguments.Read(parse, cluster) with { GatewayPorts = ClusterArguments.ParsePorts(parse.GetValue(_gateways)!, "--gateways") };
        return await EmbedClusterClient.ConnectAsync(options);
    }

    private static string? Absolute(string? path) => path is not null && (File.Exists(path) || Directory.Exists(path)) ? Path.GetFullPath(path) : path;

    /// <summary>One line of progress: shards, rows, each silo's rate, and the time left at the cluster's current rate.</summary>
    private static string Describe(ClusterJobStatus s)
    {
        double rate = s.Workers.Sum(w => w.RowsPerSecond);
        string silos = string.Join(", ", s.Workers.Select(w => string.Format(CultureInfo.InvariantCulture, "{0} {1:N0} rows/s", w.Worker, w.RowsPerSecond)));
        string eta = s.State == ClusterJobState.Running && rate > 0 ? ", ETA " + EmbedProgressPrinter.FormatDuration(TimeSpan.FromSeconds((s.Rows - s.RowsDone) / rate)) : "";
        return string.Format(CultureInfo.InvariantCulture, "embed: job {0} {1}: {2:N0}/{3:N0} shards, {4:N0}/{5:N0} rows{6}{7}",
            s.JobId, s.State.ToString().ToLowerInvariant(), s.ShardsDone, s.Shards, s.RowsDone, s.Rows, silos.Length > 0 ? $" ({silos})" : "", eta);
    }

    private sealed class SynchronousProgress(Action<ClusterJobStatus> report) : IProgress<ClusterJobStatus>
    {
        public void Report(ClusterJobStatus value) => report(value);
    }
}
