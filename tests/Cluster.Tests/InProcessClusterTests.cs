using MlPipelines.Cluster.Contracts;
using MlPipelines.Cluster.Hosting;
using MlPipelines.Jobs.EmbedJobs;
using MlPipelines.Jobs.EmbedJobs.Shards;
using MlPipelines.ManagedEngine.Embeddings;
using MlPipelines.OnnxEngine;
using MlPipelines.Tests.Support;
using Orleans.TestingHost;

namespace MlPipelines.Cluster.Tests;

/// <summary>Three worker silos in one process (Orleans' TestingHost) embed jobs that merge into the one-process output.</summary>
public class InProcessClusterTests : IAsyncLifetime
{
    private static readonly TimeSpan Hang = TimeSpan.FromMinutes(5);   // a guard against a hang, not a timing assertion
    private TestCluster _cluster = null!;

    public async Task InitializeAsync() => _cluster = await TestSettings.StartAsync<WorkerSilo>(3);

    public async Task DisposeAsync() => await _cluster.DisposeAsync();

    [Fact]
    public async Task Three_silos_embed_three_jobs_at_once_and_each_merges_into_the_bytes_one_process_writes()
    {
        using var dir = new TempDir();
        string input = dir.File("in.txt");
        File.WriteAllLines(input, Texts(2000));
        EmbedClusterClient client = EmbedClusterClient.Over(_cluster.Client);
        var settings = new ClusterEmbedJobSpec
        {
            InputPath = "", InputFormat = "", PartsDirectory = "", OutputFormat = "",
            Model = TestPaths.Stories260K, Tokenizer = TestPaths.Tok512Bin, BatchSize = 8, ShardRows = 100,
        };

        string[] outputs = [dir.File("out.csv"), dir.File("out.jsonl"), dir.File("out.parquet")];
        var jobs = outputs.Select(output =>
        {
            var options = new EmbedJobOptions { InputPath = input, OutputPath = output };
            return (Id: EmbedClusterClient.JobIdFor(input, output), Spec: EmbedClusterClient.Plan(options, settings), Output: output);
        }).ToArray();
        foreach (var job in jobs)
        {
            ClusterJobStatus submitted = await client.SubmitAsync(job.Id, job.Spec);
            // 2,000 rows in shards of 104 (100 rounded up to whole batches of 8): 18, then 128 rows in shards of 32.
            Assert.Equal(22, submitted.Shards);
        }
        ClusterJobStatus[] finished = await Task.WhenAll(jobs.Select(j => client.WaitAsync(j.Id, pollInterval: TimeSpan.FromMilliseconds(100)).WaitAsync(Hang)));

        using LoadedModel model = LanguageModels.Open(TestPaths.Stories260K, TestPaths.Tok512Bin, EngineKind.Managed);
        var embedder = new Embedder(model.Model, model.Tokenizer, new EmbeddingOptions { BatchSize = 8 });
        for (int i = 0; i < jobs.Length; i++)
        {
            ClusterJobStatus status = finished[i];
            Assert.Equal(ClusterJobState.Completed, status.State);
            Assert.Equal(2000, status.RowsDone);
            Assert.Equal(Enumerable.Range(0, 22), status.Parts.Select(p => p.Shard));   // every shard once, in order
            // The job's own time, by its grain's clock: set when the last shard was done.
            Assert.True(status.Duration > TimeSpan.Zero && status.CompletedUtc <= DateTime.UtcNow, $"{status.SubmittedUtc:O} to {status.CompletedUtc:O}");
            Assert.Equal(2000, await EmbedClusterClient.MergeAsync(status, jobs[i].Output));
            Assert.True(File.Exists(Path.Combine(jobs[i].Spec.PartsDirectory, EmbedShardManifest.FileName)));

            string single = dir.File("single" + Path.GetExtension(jobs[i].Output));
            await EmbedJob.RunAsync(embedder, new EmbedJobOptions { InputPath = input, OutputPath = single });
            Assert.Equal(File.ReadAllBytes(single), File.ReadAllBytes(jobs[i].Output));
        }
        // Sixty-six shards over three silos, one shard at a time each: the work was spread.
        Assert.True(finished.SelectMany(s => s.Workers).Select(w => w.Worker).Distinct().Count() >= 2,
            string.Join("; ", finished.SelectMany(s => s.Workers)));
    }

    [Fact]
    public async Task A_job_whose_model_no_silo_can_load_fails_with_the_reason_after_a_few_attempts()
    {
        using var dir = new TempDir();
        string input = dir.File("in.txt");
        File.WriteAllLines(input, Texts(50));
        EmbedClusterClient client = EmbedClusterClient.Over(_cluster.Client);
        var options = new EmbedJobOptions { InputPath = input, OutputPath = dir.File("out.csv") };
        ClusterEmbedJobSpec spec = EmbedClusterClient.Plan(options, new ClusterEmbedJobSpec
        {
            InputPath = "", InputFormat = "", PartsDirectory = "", OutputFormat = "", Model = dir.File("no-such-model.bin"),
        });
        string id = EmbedClusterClient.JobIdFor(input, options.OutputPath);
        await client.SubmitAsync(id, spec);
        ClusterJobStatus status = await client.WaitAsync(id, pollInterval: TimeSpan.FromMilliseconds(100)).WaitAsync(Hang);
        Assert.Equal(ClusterJobState.Failed, status.State);
        Assert.Contains("no-such-model.bin", status.Error);
    }

    internal static IEnumerable<string> Texts(int count)
    {
        string[] words = "once upon a time there was a little girl named lily she loved to play with her dog in the park, \"yes\"".Split(' ');
        var random = new Random(7);
        for (int i = 0; i < count; i++)
            yield return string.Join(' ', Enumerable.Range(0, random.Next(1, 12)).Select(_ => words[random.Next(words.Length)]));
    }
}
