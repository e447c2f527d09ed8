using MlPipelines.Cluster.Hosting;
using Orleans.TestingHost;

namespace MlPipelines.Cluster.Tests;

/// <summary>Silo settings for the in-process clusters: state in memory, short leases, quick polling, one engine thread per silo.</summary>
internal static class TestSettings
{
    public static EmbedClusterOptions Options { get; } = new()
    {
        Storage = JobStorageKind.Memory,
        LeaseTimeout = TimeSpan.FromSeconds(2),
        PollInterval = TimeSpan.FromMilliseconds(100),
        Threads = 1,
    };

    public static async Task<TestCluster> StartAsync<TConfigurator>(short silos) where TConfigurator : ISiloConfigurator, new()
    {
        var builder = new TestClusterBuilder(silos);
        builder.AddSiloBuilderConfigurator<TConfigurator>();
        TestCluster cluster = builder.Build();
        await cluster.DeployAsync();
        return cluster;
    }
}

/// <summary>Worker silos, as <c>mlpipe silo</c> runs them.</summary>
public sealed class WorkerSilo : ISiloConfigurator
{
    public void Configure(ISiloBuilder siloBuilder) => EmbedSilo.Configure(siloBuilder, TestSettings.Options, withClustering: false);
}

/// <summary>Silos with the job grains but no worker, so a test plays the workers itself.</summary>
public sealed class GrainsOnlySilo : ISiloConfigurator
{
    public void Configure(ISiloBuilder siloBuilder) => EmbedSilo.Configure(siloBuilder, TestSettings.Options, withClustering: false, withWorker: false);
}

/// <summary>Silos with the job grains, no worker, and job state in files under <see cref="StateDirectory"/> (one test at a time uses it).</summary>
public sealed class FolderStateSilo : ISiloConfigurator
{
    public static string StateDirectory { get; set; } = "";

    public void Configure(ISiloBuilder siloBuilder) =>
        EmbedSilo.Configure(siloBuilder, TestSettings.Options with { Storage = JobStorageKind.Folder, StateDirectory = StateDirectory }, withClustering: false, withWorker: false);
}
