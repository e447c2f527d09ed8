using MlPipelines.Cluster.Contracts;
using MlPipelines.Cluster.Grains;
using MlPipelines.Tests.Support;
using Orleans.TestingHost;

namespace MlPipelines.Cluster.Tests;

/// <summary>A whole cluster stopped and started again on the same state folder carries on with its jobs.</summary>
public class ClusterRestartTests
{
    [Fact]
    public async Task A_restarted_cluster_resumes_the_job_with_its_finished_shards()
    {
        using var dir = new TempDir();
        FolderStateSilo.StateDirectory = dir.File("state");
        var spec = new ClusterEmbedJobSpec
        {
            InputPath = "/data/in.txt", InputFormat = "Text", PartsDirectory = "/data/out.csv.shards", OutputFormat = "Csv",
            BatchSize = 10, ShardRows = 50, TotalRows = 150,
        };

        TestCluster first = await TestSettings.StartAsync<FolderStateSilo>(2);
        try
        {
            IEmbedJobGrain job = first.Client.GetGrain<IEmbedJobGrain>("job");
            await job.Submit(spec, restart: false);
            ShardLease lease = (await job.Lease("A"))!;
            var part = new PartRecord(lease.Shard, "shard-000000.csv", lease.FirstRow, lease.Rows, 10, new string('b', 64));
            Assert.True((await job.Complete(lease.Shard, lease.LeaseId, new ShardResult(part, "A", 1, "model", 64))).Accepted);
            Assert.NotNull(await job.Lease("B"));   // shard 1 held when the cluster goes down
        }
        finally
        {
            await first.StopAllSilosAsync();
            await first.DisposeAsync();
        }

        TestCluster second = await TestSettings.StartAsync<FolderStateSilo>(1);
        try
        {
            Assert.Equal(["job"], await second.Client.GetGrain<IJobRegistryGrain>(0).Active());
            IEmbedJobGrain job = second.Client.GetGrain<IEmbedJobGrain>("job");
            ClusterJobStatus status = await job.Status();
            Assert.Equal((ClusterJobState.Running, 1, 3, "A"), (status.State, status.ShardsDone, status.Shards, status.DoneBy[0]));
            Assert.Equal(spec, status.Spec);
            Assert.Equal(1, (await job.Lease("C"))!.Shard);   // the lease died with the cluster; the finished shard did not
        }
        finally
        {
            await second.DisposeAsync();
        }
    }
}
