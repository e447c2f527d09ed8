using MlPipelines.ManagedEngine.Kernels;

namespace MlPipelines.ManagedEngine.Tests.Kernels;

public class WorkerPoolTests
{
    private const int Rounds = 2000;

    private sealed class CountingJob(int[] hits) : ParallelJob
    {
        public override void Execute(int start, int end, int thread)
        {
            for (int i = start; i < end; i++) Interlocked.Increment(ref hits[i]);
        }
    }

    [Theory]
    [InlineData(2, 0)]
    [InlineData(3, 0)]
    [InlineData(3, 1)]
    [InlineData(3, 20_000)]
    public async Task Every_unit_runs_once_per_job_whether_workers_spin_or_block(int threads, int spins)
    {
        using var pool = new WorkerPool(threads, spins);
        var hits = new int[37];
        var job = new CountingJob(hits);
        var run = Task.Run(() =>
        {
            for (int round = 0; round < Rounds; round++)
            {
                pool.Run(job, hits.Length);
                if (round % 200 == 0) Thread.Sleep(1);   // long enough for blocking workers to go to sleep
            }
        });
        Task finished = await Task.WhenAny(run, Task.Delay(TimeSpan.FromSeconds(60)));
        Assert.True(finished == run, "the pool stopped making progress");
        await run;
        Assert.All(hits, h => Assert.Equal(Rounds, h));
    }
}
