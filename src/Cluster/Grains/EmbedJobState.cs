using MlPipelines.Cluster.Contracts;

namespace MlPipelines.Cluster.Grains;

/// <summary>A job's persisted state: its settings, its shards and what each silo did.</summary>
[GenerateSerializer, Alias("mlpipe.EmbedJobState")]
internal sealed class EmbedJobState
{
    [Id(0)] public ClusterEmbedJobSpec? Spec { get; set; }
    [Id(1)] public List<ShardRecord> Shards { get; set; } = [];
    [Id(2)] public ClusterJobState State { get; set; }
    [Id(3)] public string? Error { get; set; }
    [Id(4)] public string? ModelIdentity { get; set; }
    [Id(5)] public int Dimension { get; set; }
    [Id(6)] public DateTime SubmittedUtc { get; set; }
    [Id(7)] public Dictionary<string, WorkerStats> Workers { get; set; } = [];
    [Id(8)] public int ExpiredLeases { get; set; }
    [Id(9)] public DateTime? CompletedUtc { get; set; }
}

/// <summary>One shard: its rows, and its part once done. Leases are not persisted: after a restart every unfinished shard is pending again.</summary>
[GenerateSerializer, Alias("mlpipe.ShardRecord")]
internal sealed class ShardRecord
{
    [Id(0)] public int Number { get; set; }
    [Id(1)] public long FirstRow { get; set; }
    [Id(2)] public long Rows { get; set; }
    [Id(3)] public PartRecord? Part { get; set; }
    [Id(4)] public int Failures { get; set; }
    [Id(5)] public string? DoneBy { get; set; }
}
