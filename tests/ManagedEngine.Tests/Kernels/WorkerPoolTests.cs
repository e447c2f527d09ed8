using MlPipelines.ManagedEngine.Kernels;

namespace MlPipelines.ManagedEngine.Tests.Kernels;

public class WorkerPoolTests
{
    private const int Rounds = 2000;

    private sealed class CountingJob(int[] hits) : ParallelJob
    {
        public int Alignment = 1;
        public bool Misaligned;

        public override void Execute(int start, int end, int thread)
        {
            if (start % Alignment != 0) Misaligned = true;
            for (int i = start; i < end; i++) Interlocked.Increment(ref hits[i]);
        }
    }

    [Theory]
    [InlineData(2, 0, 1, 1)]
    [InlineData(3, 0, 1, 1)]
    [InlineData(3, 1, 1, 1)]
    [InlineData(3, 20_000, 1, 1)]
    [InlineData(2, 20_000, 4, 1)]     // chunks claimed as threads finish
    [InlineData(3, 0, 4, 8)]          // aligned chunks, the last one shorter
    [InlineData(2, 1, 64, 1)]         // more chunks than units: one unit each
    public async Task Every_unit_runs_once_per_job_whether_workers_spin_or_block(int threads, int spins, int chunksPerThread, int alignment)
    {
        using var pool = new WorkerPool(threads, spins);
        var hits = new int[37];
        var job = new CountingJob(hits) { Alignment = alignment };
        var run = Task.Run(() =>
        {
            for (int round = 0; round < Rounds; round++)
            {
                pool.Run(job, hits.Length, chunksPerThread, alignment);
                if (round % 200 == 0) Thread.Sleep(1);   // long enough for blocking workers to go to sleep
            }
        });
        Task finished = await Task.WhenAny(run, Task.Delay(TimeSpan.FromSeconds(60)));
        Assert.True(finished == run, "the pool stopped making progress");
        await run;
        Assert.All(hits, h => Assert.Equal(Rounds, h));
        Assert.False(job.Misaligned, "a chunk started off its alignment");
    }

    [Theory]
    [InlineData(2048, 8, 64, 256)]
    [InlineData(768, 8, 64, 128)]     // 96 rounded up to the alignment
    [InlineData(288, 8, 64, 64)]
    [InlineData(37, 8, 1, 5)]
    [InlineData(5, 8, 1, 1)]          // never less than a unit
    [InlineData(40, 1, 64, 40)]       // never more than all of them
    [InlineData(128256, 8, 64, 16064)]
    public void Chunks_are_about_the_asked_count_and_aligned(int units, int chunks, int alignment, int expected) =>
        Assert.Equal(expected, WorkerPool.Chunk(units, chunks, alignment));
}
