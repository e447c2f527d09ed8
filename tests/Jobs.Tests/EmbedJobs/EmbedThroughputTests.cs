using System.Diagnostics;
using MlPipelines.Jobs.EmbedJobs;
using MlPipelines.ManagedEngine.Embeddings;
using MlPipelines.Tests.Support;
using Xunit.Abstractions;

namespace MlPipelines.Jobs.Tests.EmbedJobs;

public class EmbedThroughputTests(StoriesModelFixture model, ITestOutputHelper output) : IClassFixture<StoriesModelFixture>
{
    [Fact]
    public async Task Job_overhead_is_small_next_to_embedding()
    {
        List<string> lines = EmbedTestData.Lines(2000);
        Embedder embedder = model.Embedder();
        embedder.Embed(lines.Take(64).ToList());   // warm up

        var clock = Stopwatch.StartNew();
        embedder.Embed(lines);
        double embedOnly = lines.Count / clock.Elapsed.TotalSeconds;

        using var dir = new TempDir();
        string input = EmbedTestData.WriteTextFile(dir, "in.txt", lines);
        var rates = new List<string>();
        foreach (string ext in new[] { "csv", "jsonl", "parquet" })
        {
            var result = await EmbedJob.RunAsync(embedder, new EmbedJobOptions { InputPath = input, OutputPath = dir.File("out." + ext) });
            rates.Add($"{ext} {result.RowsPerSecond:F0} rows/s");
            Assert.Equal(lines.Count, result.Rows);
        }
        output.WriteLine($"Embedder alone {embedOnly:F0} rows/s; jobs: {string.Join(", ", rates)}");
    }
}
