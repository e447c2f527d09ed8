using System.Net;

namespace MlPipelines.Cluster.Hosting;

/// <summary>How silos find each other (Orleans clustering).</summary>
public enum ClusteringKind
{
    /// <summary>
    /// One machine: silos on loopback ports, the one listening on <see cref="EmbedClusterOptions.PrimarySiloPort"/> keeping
    /// the membership (it must stay up; the others may come and go). No external service needed.
    /// </summary>
    Localhost,

    /// <summary>A Redis server holds the membership table (<see cref="EmbedClusterOptions.ConnectionString"/>).</summary>
    Redis,

    /// <summary>A SQL database holds it, through ADO.NET (<see cref="EmbedClusterOptions.ConnectionString"/>, <see cref="EmbedClusterOptions.AdoNetInvariant"/>).</summary>
    AdoNet,
}

/// <summary>Where job state is persisted (an Orleans grain storage provider).</summary>
public enum JobStorageKind
{
    /// <summary>In the silos' memory: lost when the cluster stops (tests).</summary>
    Memory,

    /// <summary>Files in a folder every silo reaches (<see cref="EmbedClusterOptions.StateDirectory"/>): a shared disk or mount.</summary>
    Folder,

    /// <summary>Redis (<see cref="EmbedClusterOptions.ConnectionString"/>).</summary>
    Redis,

    /// <summary>A SQL database through ADO.NET (<see cref="EmbedClusterOptions.ConnectionString"/>).</summary>
    AdoNet,
}

/// <summary>Settings shared by worker silos and clients of one cluster.</summary>
public sealed record EmbedClusterOptions
{
    /// <summary>The cluster's id: silos and clients with the same id (and clustering) form one cluster.</summary>
    public string ClusterId { get; init; } = "mlpipe";

    /// <summary>The service id (stable across deployments of the same cluster; keys persisted state).</summary>
    public string ServiceId { get; init; } = "mlpipe-embed";

    /// <summary>How silos find each other (default: one machine).</summary>
    public ClusteringKind Clustering { get; init; } = ClusteringKind.Localhost;

    /// <summary>Where job state lives; null: a folder for localhost clustering, the clustering's database otherwise.</summary>
    public JobStorageKind? Storage { get; init; }

    /// <summary>The Redis or ADO.NET connection string (clustering, and storage unless <see cref="Storage"/> says otherwise).</summary>
    public string? ConnectionString { get; init; }

    /// <summary>The ADO.NET provider's invariant name (e.g. <c>Npgsql</c>, <c>Microsoft.Data.SqlClient</c>, <c>MySql.Data.MySqlClient</c>).</summary>
    public string AdoNetInvariant { get; init; } = "Npgsql";

    /// <summary>The folder job state is kept in with <see cref="JobStorageKind.Folder"/>; null: a folder per cluster id under the temporary folder.</summary>
    public string? StateDirectory { get; init; }

    /// <summary>This silo's port for silo-to-silo traffic.</summary>
    public int SiloPort { get; init; } = 11111;

    /// <summary>This silo's gateway port, which clients connect to.</summary>
    public int GatewayPort { get; init; } = 30000;

    /// <summary>Localhost clustering: the silo port of the silo that keeps the membership.</summary>
    public int PrimarySiloPort { get; init; } = 11111;

    /// <summary>Localhost clustering: the gateway ports a client connects to.</summary>
    public IReadOnlyList<int> GatewayPorts { get; init; } = [30000];

    /// <summary>The address silos advertise (default: loopback for localhost clustering, else this machine's first address).</summary>
    public IPAddress? AdvertisedAddress { get; init; }

    /// <summary>A leased shard not renewed for this long goes to another silo (default 60 s; renewals come every third of it).</summary>
    public TimeSpan LeaseTimeout { get; init; } = TimeSpan.FromSeconds(60);

    /// <summary>How often an idle silo asks for work (default 250 ms: one cheap grain call, and a new job starts at once).</summary>
    public TimeSpan PollInterval { get; init; } = TimeSpan.FromMilliseconds(250);

    /// <summary>Engine threads per silo (0: all cores).</summary>
    public int Threads { get; init; }

    /// <summary>Models to load when the silo starts (names or paths, on <see cref="PreloadEngine"/>).</summary>
    public IReadOnlyList<string> PreloadModels { get; init; } = [];

    /// <summary>The engine preloaded models run on (<c>Managed</c> or <c>Onnx</c>).</summary>
    public string PreloadEngine { get; init; } = "Managed";

    /// <summary>This silo's name in job statistics (default: machine name and silo port).</summary>
    public string? WorkerName { get; init; }

    /// <summary>The state folder in effect for <see cref="JobStorageKind.Folder"/>.</summary>
    public string EffectiveStateDirectory => StateDirectory ?? Path.Combine(Path.GetTempPath(), "mlpipe-cluster", ClusterId);

    /// <summary>The storage in effect.</summary>
    public JobStorageKind EffectiveStorage => Storage ?? Clustering switch
    {
        ClusteringKind.Redis => JobStorageKind.Redis,
        ClusteringKind.AdoNet => JobStorageKind.AdoNet,
        _ => JobStorageKind.Folder,
    };

    /// <summary>Throws an <see cref="ArgumentException"/> naming the first setting that is not valid.</summary>
    public void Validate()
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(ClusterId);
        ArgumentException.ThrowIfNullOrWhiteSpace(ServiceId);
        if ((Clustering != ClusteringKind.Localhost || EffectiveStorage is JobStorageKind.Redis or JobStorageKind.AdoNet) && string.IsNullOrWhiteSpace(ConnectionString))
            throw new ArgumentException($"{Clustering} clustering and {EffectiveStorage} storage need a connection string (EmbedClusterOptions.ConnectionString).", nameof(ConnectionString));
        foreach (int port in GatewayPorts.Append(SiloPort).Append(GatewayPort).Append(PrimarySiloPort))
            if (port is < 1 or > 65535) throw new ArgumentOutOfRangeException(nameof(GatewayPorts), port, "A port must be between 1 and 65535.");
        if (LeaseTimeout < TimeSpan.FromSeconds(1)) throw new ArgumentOutOfRangeException(nameof(LeaseTimeout), LeaseTimeout, "The lease timeout must be at least a second.");
        if (PollInterval <= TimeSpan.Zero) throw new ArgumentOutOfRangeException(nameof(PollInterval), PollInterval, "The poll interval must be positive.");
        ArgumentOutOfRangeException.ThrowIfNegative(Threads);
    }
}

/// <summary>The lease timeout, as the job grain reads it (whichever silo it lives on).</summary>
public sealed class ShardLeaseOptions
{
    /// <summary>See <see cref="EmbedClusterOptions.LeaseTimeout"/>.</summary>
    public TimeSpan LeaseTimeout { get; set; } = TimeSpan.FromSeconds(60);
}
