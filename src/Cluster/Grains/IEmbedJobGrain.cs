using MlPipelines.Cluster.Contracts;

namespace MlPipelines.Cluster.Grains;

/// <summary>
/// One distributed embed job, keyed by its id: owns the plan and every shard's state, persisted through the storage
/// provider named <see cref="EmbedJobGrain.StorageName"/>, so a restarted cluster carries on where it was.
/// </summary>
[Alias("mlpipe.IEmbedJobGrain")]
public interface IEmbedJobGrain : IGrainWithStringKey
{
    /// <summary>
    /// Starts the job, or — for a job already submitted with the same settings — only reports its status (a client that
    /// restarts reconnects this way). With <paramref name="restart"/> a finished, failed or cancelled job starts over.
    /// </summary>
    /// <exception cref="ArgumentException">The job exists with different settings (and is not restarted).</exception>
    [Alias("Submit")] Task<ClusterJobStatus> Submit(ClusterEmbedJobSpec spec, bool restart);

    /// <summary>Hands <paramref name="worker"/> the first pending shard (or one whose lease expired); null when there is none.</summary>
    [Alias("Lease")] Task<ShardLease?> Lease(string worker);

    /// <summary>Extends a lease while its silo works.</summary>
    [Alias("Renew")] Task<LeaseRenewal> Renew(int shard, Guid leaseId);

    /// <summary>Records a shard's part. A shard already done keeps its first record: a late duplicate is discarded.</summary>
    [Alias("Complete")] Task<ShardAccepted> Complete(int shard, Guid leaseId, ShardResult result);

    /// <summary>Gives a shard back after an error on <paramref name="worker"/>; after a few failures the job fails.</summary>
    [Alias("Fail")] Task Fail(int shard, Guid leaseId, string worker, string error);

    /// <summary>The job's status.</summary>
    [Alias("Status")] Task<ClusterJobStatus> Status();

    /// <summary>Stops the job: no more shards are leased; silos working on one stop at their next renewal.</summary>
    [Alias("Cancel")] Task<ClusterJobStatus> Cancel();
}

/// <summary>The ids of the jobs with work left, which worker silos poll (one grain, key 0).</summary>
[Alias("mlpipe.IJobRegistryGrain")]
public interface IJobRegistryGrain : IGrainWithIntegerKey
{
    /// <summary>Adds a job with work to do.</summary>
    [Alias("Add")] Task Add(string jobId);

    /// <summary>Removes a job that has none left.</summary>
    [Alias("Remove")] Task Remove(string jobId);

    /// <summary>The jobs with work to do, oldest first.</summary>
    [Alias("Active")] Task<string[]> Active();
}
