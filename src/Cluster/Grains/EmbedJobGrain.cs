using Microsoft.Extensions.Options;
using MlPipelines.Cluster.Contracts;
using MlPipelines.Cluster.Hosting;

namespace MlPipelines.Cluster.Grains;

/// <summary>
/// The job: hands out shards as leases that expire unless renewed, so a silo that dies mid-shard loses only that shard,
/// which the next silo to ask gets; records each shard's part once, so a late duplicate is harmless; and persists the
/// plan and the finished shards (leases live in memory only: after a restart every unfinished shard is pending again).
/// Orleans runs one call at a time per grain, so the state needs no locks.
/// </summary>
internal sealed class EmbedJobGrain(
    [PersistentState("job", EmbedJobGrain.StorageName)] IPersistentState<EmbedJobState> job,
    IOptions<ShardLeaseOptions> leaseOptions) : Grain, IEmbedJobGrain
{
    /// <summary>The grain storage provider jobs are persisted with (memory in tests; a folder, Redis or ADO.NET in a deployment).</summary>
    public const string StorageName = "mlpipe-jobs";

    /// <summary>A shard that failed this many times fails the job: the error is in the input or the model, not a silo.</summary>
    public const int MaxFailures = 3;

    private readonly Dictionary<int, (Guid Id, string Worker, DateTime ExpiresUtc)> _leases = [];

    private EmbedJobState S => job.State;
    private TimeSpan LeaseTimeout => leaseOptions.Value.LeaseTimeout;

    public async Task<ClusterJobStatus> Submit(ClusterEmbedJobSpec spec, bool restart)
    {
        ArgumentNullException.ThrowIfNull(spec);
        spec.Validate();
        if (S.Spec is not null && !restart)
        {
            if (S.Spec != spec)
                throw new ArgumentException(
                    $"Job '{this.GetPrimaryKeyString()}' was submitted with other settings ({Describe(S.Spec)}); now: {Describe(spec)}. " +
                    "Cancel it, or submit it with restart (EmbedJobOptions.Restart) to start it over with the new settings.");
            return Status(includeParts: true);
        }
        _leases.Clear();
        job.State = new EmbedJobState
        {
            Spec = spec,
            Shards = spec.Plan().Select(s => new ShardRecord { Number = s.Number, FirstRow = s.FirstRow, Rows = s.Rows }).ToList(),
            SubmittedUtc = DateTime.UtcNow,
        };
        S.State = S.Shards.Count == 0 ? ClusterJobState.Completed : ClusterJobState.Running;
        if (S.State == ClusterJobState.Completed) S.CompletedUtc = S.SubmittedUtc;
        await job.WriteStateAsync();
        if (S.State == ClusterJobState.Running) await Registry.Add(this.GetPrimaryKeyString());
        return Status(includeParts: true);
    }

    public Task<ShardLease?> Lease(string worker)
    {
        if (S.State != ClusterJobState.Running || S.Spec is null) return Task.FromResult<ShardLease?>(null);
        DateTime now = DateTime.UtcNow;
        foreach (ShardRecord shard in S.Shards)
        {
            if (shard.Part is not null) continue;
            if (_leases.TryGetValue(shard.Number, out var held))
            {
                if (held.ExpiresUtc > now) continue;
                S.ExpiredLeases++;   // its silo died or stalled: the shard goes to the one asking now
            }
            var lease = (Guid.NewGuid(), worker, now + LeaseTimeout);
            _leases[shard.Number] = lease;
            return Task.FromResult<ShardLease?>(new ShardLease(this.GetPrimaryKeyString(), S.Spec, shard.Number, shard.FirstRow, shard.Rows,
                lease.Item1, lease.Item3, S.ModelIdentity));
        }
        return Task.FromResult<ShardLease?>(null);
    }

    public Task<LeaseRenewal> Renew(int shard, Guid leaseId)
    {
        if (S.State == ClusterJobState.Cancelled || S.State == ClusterJobState.Failed) return Task.FromResult(LeaseRenewal.Cancelled);
        if (!_leases.TryGetValue(shard, out var held) || held.Id != leaseId) return Task.FromResult(LeaseRenewal.Lost);
        _leases[shard] = held with { ExpiresUtc = DateTime.UtcNow + LeaseTimeout };
        return Task.FromResult(LeaseRenewal.Renewed);
    }

    public async Task<ShardAccepted> Complete(int shard, Guid leaseId, ShardResult result)
    {
        ArgumentNullException.ThrowIfNull(result);
        if (S.Spec is null || shard < 0 || shard >= S.Shards.Count)
            return new ShardAccepted(false, false, $"job '{this.GetPrimaryKeyString()}' has no shard {shard}");
        ShardRecord record = S.Shards[shard];
        if (_leases.TryGetValue(shard, out var held) && held.Id == leaseId) _leases.Remove(shard);
        if (record.Part is not null)
            return new ShardAccepted(false, S.State == ClusterJobState.Completed, $"shard {shard} was already done by {record.DoneBy}; this duplicate is discarded");
        // Every part must come from the same model: the first finished shard fixes which.
        if (S.ModelIdentity is not null && S.ModelIdentity != result.ModelIdentity)
        {
            S.Error = $"{result.Worker} embedded shard {shard} with another model ({result.ModelIdentity}) than the job's ({S.ModelIdentity}); its part is not used.";
            return new ShardAccepted(false, false, S.Error);
        }
        if (result.Part.Shard != shard || result.Part.FirstRow != record.FirstRow || result.Part.Rows != record.Rows)
            return new ShardAccepted(false, false, $"the part {result.Part.File} does not hold shard {shard}'s rows");

        S.ModelIdentity ??= result.ModelIdentity;
        S.Dimension = result.Dimension;
        record.Part = result.Part;
        record.DoneBy = result.Worker;
        WorkerStats stats = S.Workers.GetValueOrDefault(result.Worker) ?? new WorkerStats(result.Worker, 0, 0, 0);
        S.Workers[result.Worker] = stats with { Shards = stats.Shards + 1, Rows = stats.Rows + record.Rows, Seconds = stats.Seconds + result.Seconds };
        bool completed = S.State == ClusterJobState.Running && S.Shards.All(s => s.Part is not null);
        if (completed)
        {
            S.State = ClusterJobState.Completed;
            S.CompletedUtc = DateTime.UtcNow;
        }
        await job.WriteStateAsync();
        if (completed) await Registry.Remove(this.GetPrimaryKeyString());
        return new ShardAccepted(true, completed, null);
    }

    public async Task Fail(int shard, Guid leaseId, string worker, string error)
    {
        if (S.Spec is null || shard < 0 || shard >= S.Shards.Count) return;
        if (_leases.TryGetValue(shard, out var held) && held.Id == leaseId) _leases.Remove(shard);
        ShardRecord record = S.Shards[shard];
        if (record.Part is not null) return;
        record.Failures++;
        S.Error = $"shard {shard} (rows {record.FirstRow:N0}+{record.Rows:N0}) failed on {worker}: {error}";
        if (record.Failures >= MaxFailures && S.State == ClusterJobState.Running)
        {
            S.State = ClusterJobState.Failed;
            await Registry.Remove(this.GetPrimaryKeyString());
        }
        await job.WriteStateAsync();
    }

    public Task<ClusterJobStatus> Status() => Task.FromResult(Status(includeParts: true));

    public async Task<ClusterJobStatus> Cancel()
    {
        if (S.State == ClusterJobState.Running)
        {
            S.State = ClusterJobState.Cancelled;
            _leases.Clear();
            await job.WriteStateAsync();
            await Registry.Remove(this.GetPrimaryKeyString());
        }
        return Status(includeParts: false);
    }

    private IJobRegistryGrain Registry => GrainFactory.GetGrain<IJobRegistryGrain>(0);

    private ClusterJobStatus Status(bool includeParts)
    {
        DateTime now = DateTime.UtcNow;
        return new ClusterJobStatus
        {
            JobId = this.GetPrimaryKeyString(),
            State = S.Spec is null ? ClusterJobState.Unknown : S.State,
            Spec = S.Spec,
            Shards = S.Shards.Count,
            ShardsDone = S.Shards.Count(s => s.Part is not null),
            ShardsLeased = _leases.Count(l => l.Value.ExpiresUtc > now),
            Rows = S.Spec?.TotalRows ?? 0,
            RowsDone = S.Shards.Where(s => s.Part is not null).Sum(s => s.Rows),
            Workers = S.Workers.Values.OrderBy(w => w.Worker, StringComparer.Ordinal).ToArray(),
            Error = S.Error,
            // The parts list is what a merge needs; it is complete only once the job is.
            Parts = includeParts && S.State == ClusterJobState.Completed ? S.Shards.Select(s => s.Part!).ToArray() : [],
            Dimension = S.Dimension,
            SubmittedUtc = S.SubmittedUtc,
            CompletedUtc = S.CompletedUtc,
            ExpiredLeases = S.ExpiredLeases,
            DoneBy = S.Shards.Select(s => s.DoneBy ?? "").ToArray(),
            InProgress = _leases.Where(l => l.Value.ExpiresUtc > now).OrderBy(l => l.Key).Select(l => new ShardInProgress(l.Key, l.Value.Worker)).ToArray(),
        };
    }

    private static string Describe(ClusterEmbedJobSpec spec) =>
        $"input {spec.InputPath}, {spec.TotalRows:N0} rows, parts in {spec.PartsDirectory} as {spec.OutputFormat}, model {spec.Model ?? "(default)"} on {spec.Engine}, " +
        $"{spec.Pooling}{(spec.Normalize ? ", normalized" : "")}, max tokens {spec.MaxTokens}, batch {spec.BatchSize}, shards of {spec.ShardRows}";
}
