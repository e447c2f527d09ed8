using System.Diagnostics;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using MlPipelines.Cluster.Contracts;
using MlPipelines.Cluster.Grains;
using MlPipelines.Cluster.Hosting;
using MlPipelines.Jobs.EmbedJobs;
using MlPipelines.Jobs.EmbedJobs.Shards;
using MlPipelines.ManagedEngine.Embeddings;
using MlPipelines.OnnxEngine;

namespace MlPipelines.Cluster.Silo;

/// <summary>
/// A silo's worker: asks the jobs with work left for a shard, embeds it with the silo's model, writes its part and
/// reports it — one shard at a time, all of the silo's engine threads on it — renewing the lease while it works. An
/// error gives the shard back (the job fails after <see cref="EmbedJobGrain.MaxFailures"/>); losing the cluster for a
/// while is waited out.
/// </summary>
internal sealed class ShardWorker(IGrainFactory grains, SiloModels models, EmbedClusterOptions options, ILocalSiloDetails silo, ILogger<ShardWorker> log)
    : BackgroundService
{
    /// <summary>This silo's name in job statistics: the one configured, else the machine's name and the silo's port.</summary>
    public string Name { get; } = options.WorkerName ?? $"{Environment.MachineName}:{silo.SiloAddress.Endpoint.Port}";

    protected override async Task ExecuteAsync(CancellationToken stopping)
    {
        foreach (string model in options.PreloadModels)
            models.Get(model, null, Enum.Parse<EngineKind>(options.PreloadEngine, ignoreCase: true));
        while (!stopping.IsCancellationRequested)
        {
            bool worked = false;
            try
            {
                worked = await TryOneShardAsync(stopping);
            }
            catch (OperationCanceledException) when (stopping.IsCancellationRequested)
            {
                break;
            }
            catch (Exception e)
            {
                // The cluster may be reconfiguring (a silo died, the job's grain is moving): ask again shortly.
                log.LogWarning(e, "{Worker}: asking for work failed; retrying", Name);
            }
            if (!worked)
            {
                try { await Task.Delay(options.PollInterval, stopping); }
                catch (OperationCanceledException) { break; }
            }
        }
    }

    private async Task<bool> TryOneShardAsync(CancellationToken stopping)
    {
        foreach (string jobId in await grains.GetGrain<IJobRegistryGrain>(0).Active())
        {
            IEmbedJobGrain job = grains.GetGrain<IEmbedJobGrain>(jobId);
            if (await job.Lease(Name) is { } lease)
            {
                await RunAsync(job, lease, stopping);
                return true;
            }
        }
        return false;
    }

    private async Task RunAsync(IEmbedJobGrain job, ShardLease lease, CancellationToken stopping)
    {
        using var cts = CancellationTokenSource.CreateLinkedTokenSource(stopping);
        Task renewing = RenewAsync(job, lease, cts);
        try
        {
            ClusterEmbedJobSpec spec = lease.Spec;
            LoadedModel loaded = models.Get(spec.Model, spec.Tokenizer, spec.EngineKind());
            string identity = JobFingerprint.DescribeModel(loaded);
            if (lease.ModelIdentity is { } expected && expected != identity)
            {
                await job.Fail(lease.Shard, lease.LeaseId, Name, $"this silo's model is {identity}, the job's is {expected}");
                return;
            }
            var embedder = new Embedder(loaded.Model, loaded.Tokenizer, spec.EmbeddingOptions());
            var clock = Stopwatch.StartNew();
            EmbedShardPart part = await Task.Run(() => EmbedShardWriter.WriteAsync(embedder, spec.Input(),
                new EmbedShard(lease.Shard, lease.FirstRow, lease.Rows), spec.Format(), spec.PartsDirectory, cts.Token), cts.Token);
            var result = new ShardResult(new PartRecord(part.Shard, part.File, part.FirstRow, part.Rows, part.Bytes, part.Sha256),
                Name, clock.Elapsed.TotalSeconds, identity, embedder.Dimension);
            ShardAccepted accepted = await job.Complete(lease.Shard, lease.LeaseId, result);
            if (!accepted.Accepted)
                log.LogInformation("{Worker}: shard {Shard} of {Job} not used: {Reason}", Name, lease.Shard, lease.JobId, accepted.Reason);
            if (accepted.JobCompleted)
                EmbedClusterClient.WriteManifest(await job.Status());
        }
        catch (OperationCanceledException) when (cts.IsCancellationRequested)
        {
            // The job was cancelled or the silo is stopping: the lease lapses and the shard, if still wanted, goes elsewhere.
        }
        catch (Exception e)
        {
            log.LogWarning(e, "{Worker}: shard {Shard} of {Job} failed", Name, lease.Shard, lease.JobId);
            await job.Fail(lease.Shard, lease.LeaseId, Name, e.Message);
        }
        finally
        {
            await cts.CancelAsync();
            try { await renewing; } catch (OperationCanceledException) { }
        }
    }

    /// <summary>Renews the lease every third of its timeout; a cancelled job stops the work.</summary>
    private async Task RenewAsync(IEmbedJobGrain job, ShardLease lease, CancellationTokenSource work)
    {
        TimeSpan every = options.LeaseTimeout / 3;
        while (!work.IsCancellationRequested)
        {
            await Task.Delay(every, work.Token);
            try
            {
                if (await job.Renew(lease.Shard, lease.LeaseId) == LeaseRenewal.Cancelled)
                    await work.CancelAsync();
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                log.LogWarning(e, "{Worker}: renewing the lease of shard {Shard} failed", Name, lease.Shard);
            }
        }
    }
}
