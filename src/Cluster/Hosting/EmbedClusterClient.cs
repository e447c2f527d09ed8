using System.Security.Cryptography;
using System.Text;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using MlPipelines.Cluster.Contracts;
using MlPipelines.Cluster.Grains;
using MlPipelines.Jobs.EmbedJobs;
using MlPipelines.Jobs.EmbedJobs.Shards;
using Orleans.Configuration;

namespace MlPipelines.Cluster.Hosting;

/// <summary>
/// Submits distributed embed jobs to a cluster, watches them, cancels them, and merges a finished job's parts into the
/// one file a one-machine <c>mlpipe embed</c> would have written. A job's id follows from its input and output, so
/// running the same submission again (after the client restarted, say) reconnects to the job instead of starting another.
/// </summary>
public sealed class EmbedClusterClient : IAsyncDisposable
{
    private readonly IGrainFactory _grains;
    private readonly IHost? _host;

    private EmbedClusterClient(IGrainFactory grains, IHost? host)
    {
        _grains = grains;
        _host = host;
    }

    /// <summary>A client over an existing connection (an in-process cluster's client, say).</summary>
    public static EmbedClusterClient Over(IGrainFactory grains) => new(grains ?? throw new ArgumentNullException(nameof(grains)), host: null);

    /// <summary>Connects to the cluster <paramref name="options"/> describes.</summary>
    public static async Task<EmbedClusterClient> ConnectAsync(EmbedClusterOptions options, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        HostApplicationBuilder builder = Hosts.CreateBuilder();
        builder.UseOrleansClient(client =>
        {
            switch (options.Clustering)
            {
                case ClusteringKind.Localhost:
                    client.UseLocalhostClustering(options.GatewayPorts.ToArray(), options.ServiceId, options.ClusterId);
                    break;
                case ClusteringKind.Redis:
                    client.UseRedisClustering(options.ConnectionString!);
                    break;
                case ClusteringKind.AdoNet:
                    client.UseAdoNetClustering(o =>
                    {
                        o.ConnectionString = options.ConnectionString;
                        o.Invariant = options.AdoNetInvariant;
                    });
                    break;
            }
            if (options.Clustering != ClusteringKind.Localhost)
                client.Configure<ClusterOptions>(c =>
                {
                    c.ClusterId = options.ClusterId;
                    c.ServiceId = options.ServiceId;
                });
        });
        IHost host = await Hosts.StartAsync(builder, cancellationToken);
        return new EmbedClusterClient(host.Services.GetRequiredService<IClusterClient>(), host);
    }

    /// <summary>The id of the job embedding <paramref name="inputPath"/> into <paramref name="outputPath"/>: <c>embed-</c> and 16 hex digits.</summary>
    public static string JobIdFor(string inputPath, string outputPath)
    {
        string key = Path.GetFullPath(inputPath) + "\n" + Path.GetFullPath(outputPath);
        return "embed-" + Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(key)))[..16];
    }

    /// <summary>The folder a job writing <paramref name="outputPath"/> keeps its parts and manifest in: <c>OUTPUT.shards</c>.</summary>
    public static string PartsDirectoryFor(string outputPath) => Path.GetFullPath(outputPath) + ".shards";

    /// <summary>Submits (or reconnects to) a job; see <see cref="IEmbedJobGrain.Submit"/>.</summary>
    public Task<ClusterJobStatus> SubmitAsync(string jobId, ClusterEmbedJobSpec spec, bool restart = false) =>
        Job(jobId).Submit(spec, restart);

    /// <summary>The job's status (<see cref="ClusterJobState.Unknown"/> for an id never submitted).</summary>
    public Task<ClusterJobStatus> StatusAsync(string jobId) => Job(jobId).Status();

    /// <summary>Cancels the job.</summary>
    public Task<ClusterJobStatus> CancelAsync(string jobId) => Job(jobId).Cancel();

    /// <summary>
    /// Polls the job until it completes, fails or is cancelled, reporting each status. A call that fails while the
    /// cluster reconfigures (a silo died) is retried until <paramref name="unreachableFor"/> (default 2 min) passes.
    /// </summary>
    public async Task<ClusterJobStatus> WaitAsync(string jobId, IProgress<ClusterJobStatus>? progress = null, TimeSpan? pollInterval = null,
        TimeSpan? unreachableFor = null, CancellationToken cancellationToken = default)
    {
        TimeSpan poll = pollInterval ?? TimeSpan.FromSeconds(1);
        TimeSpan patience = unreachableFor ?? TimeSpan.FromMinutes(2);
        DateTime lastAnswer = DateTime.UtcNow;
        while (true)
        {
            ClusterJobStatus? status = null;
            try
            {
                status = await StatusAsync(jobId).WaitAsync(cancellationToken);
                lastAnswer = DateTime.UtcNow;
            }
            catch (Exception e) when (e is not OperationCanceledException && DateTime.UtcNow - lastAnswer < patience)
            {
                // The job's grain is moving to another silo: ask again.
            }
            if (status is not null)
            {
                progress?.Report(status);
                if (status.State != ClusterJobState.Running) return status;
            }
            await Task.Delay(poll, cancellationToken);
        }
    }

    /// <summary>Writes a completed job's manifest into its parts folder (the same bytes whoever writes it, and however often).</summary>
    public static EmbedShardManifest WriteManifest(ClusterJobStatus completed)
    {
        ArgumentNullException.ThrowIfNull(completed);
        if (completed.State != ClusterJobState.Completed || completed.Spec is null)
            throw new InvalidOperationException($"Job '{completed.JobId}' is {completed.State}, not completed: it has no manifest yet.");
        if (!Directory.Exists(completed.Spec.PartsDirectory))
            throw new DirectoryNotFoundException(
                $"Job '{completed.JobId}' completed earlier, but its parts folder {completed.Spec.PartsDirectory} is gone. Submit it again with restart (EmbedJobOptions.Restart) to embed it anew.");
        EmbedShardManifest manifest = EmbedShardManifest.Create(completed.Spec.Format(), completed.Dimension,
            completed.Parts.Select(p => new EmbedShardPart(p.Shard, p.File, p.FirstRow, p.Rows, p.Bytes, p.Sha256)));
        manifest.Save(completed.Spec.PartsDirectory);
        return manifest;
    }

    /// <summary>Writes the manifest of a completed job and merges its parts into <paramref name="outputPath"/>.</summary>
    public static async Task<long> MergeAsync(ClusterJobStatus completed, string outputPath, bool overwrite = false, CancellationToken cancellationToken = default)
    {
        WriteManifest(completed);
        return await EmbedShardMerger.MergeAsync(completed.Spec!.PartsDirectory, outputPath, overwrite, cancellationToken);
    }

    /// <summary>
    /// The spec of a job embedding <paramref name="options"/>' input into parts beside its output, counting (and so
    /// validating) the input's rows now, before any silo starts.
    /// </summary>
    public static ClusterEmbedJobSpec Plan(EmbedJobOptions options, ClusterEmbedJobSpec settings, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(settings);
        options.Validate();
        EmbedInputFormat input = options.EffectiveInputFormat;
        long rows = EmbedInputs.Count(options.InputPath, input, options.Column, cancellationToken);
        ClusterEmbedJobSpec spec = settings with
        {
            InputPath = Path.GetFullPath(options.InputPath),
            InputFormat = input.ToString(),
            Column = options.Column,
            PartsDirectory = PartsDirectoryFor(options.OutputPath),
            OutputFormat = options.EffectiveOutputFormat.ToString(),
            TotalRows = rows,
        };
        spec.Validate();
        return spec;
    }

    private IEmbedJobGrain Job(string jobId)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(jobId);
        return _grains.GetGrain<IEmbedJobGrain>(jobId);
    }

    /// <summary>Disconnects (when this client made the connection).</summary>
    public async ValueTask DisposeAsync()
    {
        if (_host is null) return;
        try { await _host.StopAsync(); } catch (OperationCanceledException) { }
        _host.Dispose();
    }
}
