namespace MlPipelines.Cluster.Contracts;

/// <summary>Where a distributed job stands.</summary>
[GenerateSerializer, Alias("mlpipe.ClusterJobState")]
public enum ClusterJobState
{
    /// <summary>No job of that id was submitted.</summary>
    Unknown,

    /// <summary>Shards are pending or being embedded.</summary>
    Running,

    /// <summary>Every shard is done; the manifest lists the parts.</summary>
    Completed,

    /// <summary>A shard failed on every attempt; <see cref="ClusterJobStatus.Error"/> says why.</summary>
    Failed,

    /// <summary>Cancelled by a user; finished parts stay, no new shard is leased.</summary>
    Cancelled,
}

/// <summary>A job's progress: shards, rows, what each silo did, and (when complete) the parts.</summary>
[GenerateSerializer, Immutable, Alias("mlpipe.ClusterJobStatus")]
public sealed record ClusterJobStatus
{
    /// <summary>The job's id.</summary>
    [Id(0)] public required string JobId { get; init; }

    /// <summary>The state.</summary>
    [Id(1)] public ClusterJobState State { get; init; }

    /// <summary>The job's settings (null for an unknown job).</summary>
    [Id(2)] public ClusterEmbedJobSpec? Spec { get; init; }

    /// <summary>Shards in the plan.</summary>
    [Id(3)] public int Shards { get; init; }

    /// <summary>Shards finished.</summary>
    [Id(4)] public int ShardsDone { get; init; }

    /// <summary>Shards being embedded now.</summary>
    [Id(5)] public int ShardsLeased { get; init; }

    /// <summary>Rows in finished shards.</summary>
    [Id(6)] public long RowsDone { get; init; }

    /// <summary>Rows in the job.</summary>
    [Id(7)] public long Rows { get; init; }

    /// <summary>Per silo (worker name): shards and rows done, and the rows per second of its embedding time.</summary>
    [Id(8)] public IReadOnlyList<WorkerStats> Workers { get; init; } = [];

    /// <summary>Why the job failed (or the last shard error seen).</summary>
    [Id(9)] public string? Error { get; init; }

    /// <summary>The finished parts in shard order: complete when <see cref="State"/> is Completed.</summary>
    [Id(10)] public IReadOnlyList<PartRecord> Parts { get; init; } = [];

    /// <summary>The model's dimension, once a shard is done.</summary>
    [Id(11)] public int Dimension { get; init; }

    /// <summary>When the job was submitted.</summary>
    [Id(12)] public DateTime SubmittedUtc { get; init; }

    /// <summary>Shard leases that expired (their silo died or stalled) and went to another silo.</summary>
    [Id(13)] public int ExpiredLeases { get; init; }

    /// <summary>The shards being embedded now, and by which silo.</summary>
    [Id(14)] public IReadOnlyList<ShardInProgress> InProgress { get; init; } = [];

    /// <summary>Per shard, the silo that finished it (empty while not done).</summary>
    [Id(15)] public IReadOnlyList<string> DoneBy { get; init; } = [];

    /// <summary>When the last shard was done (null until the job completes).</summary>
    [Id(16)] public DateTime? CompletedUtc { get; init; }

    /// <summary>
    /// How long the cluster took, submission to the last shard, by the job grain's clock (null until the job
    /// completes): the job's own time, without a client's polling delay or the merge.
    /// </summary>
    public TimeSpan? Duration => CompletedUtc is { } done ? done - SubmittedUtc : null;
}

/// <summary>A shard a silo holds a live lease on.</summary>
[GenerateSerializer, Immutable, Alias("mlpipe.ShardInProgress")]
public sealed record ShardInProgress([property: Id(0)] int Shard, [property: Id(1)] string Worker);

/// <summary>What one silo has done for a job.</summary>
[GenerateSerializer, Immutable, Alias("mlpipe.WorkerStats")]
public sealed record WorkerStats(
    [property: Id(0)] string Worker, [property: Id(1)] int Shards, [property: Id(2)] long Rows, [property: Id(3)] double Seconds)
{
    /// <summary>Rows per second of embedding time.</summary>
    public double RowsPerSecond => Seconds > 0 ? Rows / Seconds : 0;
}

/// <summary>A finished shard's part, as the manifest will list it.</summary>
[GenerateSerializer, Immutable, Alias("mlpipe.PartRecord")]
public sealed record PartRecord(
    [property: Id(0)] int Shard, [property: Id(1)] string File, [property: Id(2)] long FirstRow, [property: Id(3)] long Rows,
    [property: Id(4)] long Bytes, [property: Id(5)] string Sha256);

/// <summary>A shard handed to a silo until <see cref="ExpiresUtc"/> (renewed while it works).</summary>
[GenerateSerializer, Immutable, Alias("mlpipe.ShardLease")]
public sealed record ShardLease(
    [property: Id(0)] string JobId, [property: Id(1)] ClusterEmbedJobSpec Spec, [property: Id(2)] int Shard, [property: Id(3)] long FirstRow,
    [property: Id(4)] long Rows, [property: Id(5)] Guid LeaseId, [property: Id(6)] DateTime ExpiresUtc, [property: Id(7)] string? ModelIdentity);

/// <summary>What a silo reports when it has written a shard's part.</summary>
[GenerateSerializer, Immutable, Alias("mlpipe.ShardResult")]
public sealed record ShardResult(
    [property: Id(0)] PartRecord Part, [property: Id(1)] string Worker, [property: Id(2)] double Seconds,
    [property: Id(3)] string ModelIdentity, [property: Id(4)] int Dimension);

/// <summary>The job's answer to a finished shard.</summary>
[GenerateSerializer, Immutable, Alias("mlpipe.ShardAccepted")]
public sealed record ShardAccepted([property: Id(0)] bool Accepted, [property: Id(1)] bool JobCompleted, [property: Id(2)] string? Reason);

/// <summary>The job's answer to a lease renewal.</summary>
[GenerateSerializer, Alias("mlpipe.LeaseRenewal")]
public enum LeaseRenewal
{
    /// <summary>Still yours.</summary>
    Renewed,

    /// <summary>Expired and handed on, or the shard is done: finishing it is harmless but not needed.</summary>
    Lost,

    /// <summary>The job was cancelled: stop.</summary>
    Cancelled,
}
