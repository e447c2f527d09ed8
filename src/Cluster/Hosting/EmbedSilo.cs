using System.Net;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using MlPipelines.Cluster.Grains;
using MlPipelines.Cluster.Silo;
using Orleans.Configuration;
using Orleans.Runtime.Hosting;
using Orleans.Serialization;

namespace MlPipelines.Cluster.Hosting;

/// <summary>A worker silo: the job grains, the storage they persist to, and the worker that embeds shards.</summary>
public static class EmbedSilo
{
    /// <summary>Starts a silo in a host of its own; dispose (or stop) the host to leave the cluster.</summary>
    public static async Task<IHost> StartAsync(EmbedClusterOptions options, ILoggerProvider? logging = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        HostApplicationBuilder builder = Hosts.CreateBuilder(logging);
        builder.UseOrleans(silo => Configure(silo, options));
        return await Hosts.StartAsync(builder, cancellationToken);
    }

    /// <summary>
    /// Configures <paramref name="silo"/> as a worker of the cluster <paramref name="options"/> describes. Tests call
    /// this from a TestingHost configurator, which sets up clustering itself (<paramref name="withClustering"/> false),
    /// and may leave the worker out to play the workers themselves (<paramref name="withWorker"/> false).
    /// </summary>
    public static void Configure(ISiloBuilder silo, EmbedClusterOptions options, bool withClustering = true, bool withWorker = true)
    {
        ArgumentNullException.ThrowIfNull(silo);
        options.Validate();
        if (withClustering) ConfigureClustering(silo, options);
        ConfigureStorage(silo, options);
        silo.Services.Configure<ShardLeaseOptions>(o => o.LeaseTimeout = options.LeaseTimeout);
        silo.Services.AddSingleton(options);
        silo.Services.AddSingleton(_ => new SiloModels(options.Threads));
        if (withWorker) silo.Services.AddHostedService<ShardWorker>();
    }

    private static void ConfigureClustering(ISiloBuilder silo, EmbedClusterOptions options)
    {
        switch (options.Clustering)
        {
            case ClusteringKind.Localhost:
                silo.UseLocalhostClustering(options.SiloPort, options.GatewayPort, new IPEndPoint(IPAddress.Loopback, options.PrimarySiloPort),
                    options.ServiceId, options.ClusterId);
                // On one machine a silo that stops answering is dead, not slow: declare it so within seconds, so its
                // grains move and its leases are the only work lost.
                silo.Configure<ClusterMembershipOptions>(m =>
                {
                    m.ProbeTimeout = TimeSpan.FromSeconds(2);
                    m.NumMissedProbesLimit = 2;
                    m.NumVotesForDeathDeclaration = 1;
                    m.IAmAliveTablePublishTimeout = TimeSpan.FromSeconds(10);
                });
                break;
            case ClusteringKind.Redis:
                silo.UseRedisClustering(options.ConnectionString!);
                ConfigureIds(silo, options);
                break;
            case ClusteringKind.AdoNet:
                silo.UseAdoNetClustering(o =>
                {
                    o.ConnectionString = options.ConnectionString;
                    o.Invariant = options.AdoNetInvariant;
                });
                ConfigureIds(silo, options);
                break;
        }
    }

    private static void ConfigureIds(ISiloBuilder silo, EmbedClusterOptions options)
    {
        silo.Configure<ClusterOptions>(c =>
        {
            c.ClusterId = options.ClusterId;
            c.ServiceId = options.ServiceId;
        });
        silo.ConfigureEndpoints(options.AdvertisedAddress ?? Dns.GetHostAddresses(Dns.GetHostName()).First(), options.SiloPort, options.GatewayPort, listenOnAnyHostAddress: true);
    }

    private static void ConfigureStorage(ISiloBuilder silo, EmbedClusterOptions options)
    {
        switch (options.EffectiveStorage)
        {
            case JobStorageKind.Memory:
                silo.AddMemoryGrainStorage(EmbedJobGrain.StorageName);
                break;
            case JobStorageKind.Folder:
                string folder = options.EffectiveStateDirectory;
                silo.Services.AddGrainStorage(EmbedJobGrain.StorageName, (sp, _) => new FolderGrainStorage(folder, sp.GetRequiredService<Serializer>()));
                break;
            case JobStorageKind.Redis:
                silo.AddRedisGrainStorage(EmbedJobGrain.StorageName, o => o.ConfigurationOptions = StackExchange.Redis.ConfigurationOptions.Parse(options.ConnectionString!));
                break;
            case JobStorageKind.AdoNet:
                silo.AddAdoNetGrainStorage(EmbedJobGrain.StorageName, o =>
                {
                    o.ConnectionString = options.ConnectionString;
                    o.Invariant = options.AdoNetInvariant;
                });
                break;
        }
    }
}
