using MlPipelines.Cluster.Contracts;
using MlPipelines.Cluster.Grains;
using Orleans.TestingHost;

namespace MlPipelines.Cluster.Tests;

/// <summary>The job grain's rules, with the test playing the silos: leases, expiry, duplicates, failures, cancellation, persistence.</summary>
public class JobGrainTests : IAsyncLifetime
{
    private TestCluster _cluster = null!;

    public async Task InitializeAsync() => _cluster = await TestSettings.StartAsync<GrainsOnlySilo>(1);

    public async Task DisposeAsync() => await _cluster.DisposeAsync();

    private static ClusterEmbedJobSpec Spec(long rows = 100, string model = "m") => new()
    {
        InputPath = "/data/in.txt", InputFormat = "Text", PartsDirectory = "/data/out.csv.shards", OutputFormat = "Csv",
        Model = model, BatchSize = 10, ShardRows = 50, TotalRows = rows,
    };

    private static ShardResult Result(ShardLease lease, string worker, string identity = "model A") =>
        new(new PartRecord(lease.Shard, $"shard-{lease.Shard:D6}.csv", lease.FirstRow, lease.Rows, 10, new string('a', 64)), worker, 1.0, identity, 64);

    private IEmbedJobGrain Job(string id) => _cluster.Client.GetGrain<IEmbedJobGrain>(id);

    [Fact]
    public async Task An_expired_lease_goes_to_the_next_silo_and_the_late_duplicate_is_discarded()
    {
        IEmbedJobGrain job = Job("expiry");
        await job.Submit(Spec(), restart: false);
        ShardLease a = (await job.Lease("A"))!;
        ShardLease b = (await job.Lease("B"))!;
        Assert.Equal((0, 1), (a.Shard, b.Shard));
        Assert.Null(await job.Lease("C"));   // both shards are held

        await Task.Delay(TimeSpan.FromSeconds(2.5));   // past the 2 s lease: A and B stopped renewing (died)
        ShardLease c = (await job.Lease("C"))!;
        Assert.Equal(0, c.Shard);
        Assert.Equal(LeaseRenewal.Lost, await job.Renew(a.Shard, a.LeaseId));
        Assert.True((await job.Complete(c.Shard, c.LeaseId, Result(c, "C"))).Accepted);

        ShardAccepted late = await job.Complete(a.Shard, a.LeaseId, Result(a, "A"));
        Assert.False(late.Accepted);
        Assert.Contains("already done by C", late.Reason);

        ShardLease d = (await job.Lease("D"))!;
        Assert.Equal(1, d.Shard);
        Assert.Equal("model A", d.ModelIdentity);   // the first finished shard fixed the model
        ShardAccepted other = await job.Complete(d.Shard, d.LeaseId, Result(d, "D", identity: "model B"));
        Assert.False(other.Accepted);
        ShardLease e = (await job.Lease("E"))!;
        ShardAccepted last = await job.Complete(e.Shard, e.LeaseId, Result(e, "E"));
        Assert.True(last.Accepted && last.JobCompleted);

        ClusterJobStatus status = await job.Status();
        Assert.Equal(ClusterJobState.Completed, status.State);
        Assert.Equal(2, status.ExpiredLeases);
        Assert.Equal(["C", "E"], status.Workers.Select(w => w.Worker));
        Assert.Equal([0, 1], status.Parts.Select(p => p.Shard));
        Assert.Empty(await _cluster.Client.GetGrain<IJobRegistryGrain>(0).Active());
    }

    [Fact]
    public async Task A_renewed_lease_stays_with_its_silo()
    {
        IEmbedJobGrain job = Job("renew");
        await job.Submit(Spec(rows: 50), restart: false);
        ShardLease a = (await job.Lease("A"))!;
        for (int i = 0; i < 5; i++)
        {
            await Task.Delay(TimeSpan.FromSeconds(0.6));
            Assert.Equal(LeaseRenewal.Renewed, await job.Renew(a.Shard, a.LeaseId));
        }
        Assert.Null(await job.Lease("B"));
        Assert.Equal([new ShardInProgress(0, "A")], (await job.Status()).InProgress);
    }

    [Fact]
    public async Task A_resubmission_reconnects_other_settings_are_refused_and_restart_starts_over()
    {
        IEmbedJobGrain job = Job("resubmit");
        Assert.Equal(ClusterJobState.Unknown, (await job.Status()).State);
        await job.Submit(Spec(), restart: false);
        ShardLease a = (await job.Lease("A"))!;
        await job.Complete(a.Shard, a.LeaseId, Result(a, "A"));

        ClusterJobStatus again = await job.Submit(Spec(), restart: false);
        Assert.Equal(1, again.ShardsDone);
        var refused = await Assert.ThrowsAsync<ArgumentException>(() => job.Submit(Spec(model: "other"), restart: false));
        Assert.Contains("other settings", refused.Message);
        ClusterJobStatus restarted = await job.Submit(Spec(model: "other"), restart: true);
        Assert.Equal((0, 2, ClusterJobState.Running), (restarted.ShardsDone, restarted.Shards, restarted.State));
    }

    [Fact]
    public async Task A_shard_that_keeps_failing_fails_the_job_and_a_cancelled_job_stops_its_silos()
    {
        IEmbedJobGrain failing = Job("failing");
        await failing.Submit(Spec(), restart: false);
        for (int i = 0; i < EmbedJobGrain.MaxFailures; i++)
        {
            ShardLease lease = (await failing.Lease("A"))!;
            Assert.Equal(0, lease.Shard);   // given back each time
            await failing.Fail(lease.Shard, lease.LeaseId, "A", "the input is gone");
        }
        ClusterJobStatus failed = await failing.Status();
        Assert.Equal(ClusterJobState.Failed, failed.State);
        Assert.Contains("the input is gone", failed.Error);
        Assert.Null(await failing.Lease("B"));

        IEmbedJobGrain cancelled = Job("cancelled");
        await cancelled.Submit(Spec(), restart: false);
        ShardLease held = (await cancelled.Lease("A"))!;
        Assert.Equal(ClusterJobState.Cancelled, (await cancelled.Cancel()).State);
        Assert.Equal(LeaseRenewal.Cancelled, await cancelled.Renew(held.Shard, held.LeaseId));
        Assert.Null(await cancelled.Lease("B"));
        Assert.DoesNotContain("cancelled", await _cluster.Client.GetGrain<IJobRegistryGrain>(0).Active());
    }

    [Fact]
    public async Task The_job_outlives_its_activation_with_finished_shards_kept_and_leases_released()
    {
        IEmbedJobGrain job = Job("restart");
        await job.Submit(Spec(rows: 150), restart: false);
        ShardLease a = (await job.Lease("A"))!;
        await job.Complete(a.Shard, a.LeaseId, Result(a, "A"));
        ShardLease b = (await job.Lease("B"))!;   // held when the "cluster restarts"
        Assert.Equal(1, b.Shard);

        await _cluster.Client.GetGrain<IManagementGrain>(0).ForceActivationCollection(TimeSpan.Zero);

        ClusterJobStatus status = await job.Status();
        Assert.Equal((ClusterJobState.Running, 1, 3), (status.State, status.ShardsDone, status.Shards));
        Assert.Empty(status.InProgress);
        Assert.Equal(1, (await job.Lease("C"))!.Shard);   // the lease did not survive; the finished shard did
        Assert.Contains("restart", await _cluster.Client.GetGrain<IJobRegistryGrain>(0).Active());
    }
}
