using MlPipelines.Jobs.EmbedJobs;
using MlPipelines.ManagedEngine.Embeddings;
using MlPipelines.Tests.Support;

namespace MlPipelines.Jobs.Tests.EmbedJobs;

public class ResumeTests(StoriesModelFixture model) : IClassFixture<StoriesModelFixture>
{
    private static readonly EmbeddingOptions Options = new() { BatchSize = 8 };

    private EmbedJobOptions Job(string input, string output) =>
        new() { InputPath = input, OutputPath = output, ParquetPartRows = 40 };

    /// <summary>Cancels the job once it has done at least <paramref name="rows"/> rows.</summary>
    private sealed class CancelAfter(CancellationTokenSource cts, long rows) : IProgress<EmbedProgress>
    {
        public void Report(EmbedProgress value)
        {
            if (value.Rows >= rows) cts.Cancel();
        }
    }

    [Theory]
    [InlineData("csv")]
    [InlineData("jsonl")]
    [InlineData("parquet")]
    public async Task A_cancelled_job_resumes_to_the_same_bytes_as_an_uninterrupted_one(string ext)
    {
        using var dir = new TempDir();
        string input = EmbedTestData.WriteTextFile(dir, "in.txt", EmbedTestData.Lines(300));
        Embedder embedder = model.Embedder(Options);
        string reference = dir.File("reference." + ext);
        await EmbedJob.RunAsync(embedder, Job(input, reference));

        string output = dir.File("out." + ext);
        using (var cts = new CancellationTokenSource())
        {
            var first = await EmbedJob.RunAsync(embedder, Job(input, output), new CancelAfter(cts, 100), cts.Token);
            Assert.True(first.Cancelled);
            Assert.Equal(104, first.Rows);   // the batch in flight is finished and committed
            Assert.True(File.Exists(first.ProgressFilePath));
            if (ext == "parquet")
                Assert.NotEmpty(Directory.GetFiles(output + ".parts", "part-*.parquet"));   // rows so far: valid Parquet parts
            else
                Assert.Equal(104 + (ext == "csv" ? 1 : 0), File.ReadAllLines(output).Length);
        }
        // Interrupt the resumed run too, then finish.
        using (var cts = new CancellationTokenSource())
        {
            var second = await EmbedJob.RunAsync(embedder, Job(input, output), new CancelAfter(cts, 200), cts.Token);
            Assert.True(second.Cancelled);
            Assert.Equal(104, second.ResumedRows);
        }
        var last = await EmbedJob.RunAsync(embedder, Job(input, output));
        Assert.False(last.Cancelled);
        Assert.Equal(300, last.Rows);
        Assert.Equal(File.ReadAllBytes(reference), File.ReadAllBytes(output));
        Assert.False(File.Exists(last.ProgressFilePath));
        Assert.False(Directory.Exists(output + ".parts"));
    }

    [Fact]
    public async Task A_torn_tail_past_the_committed_length_is_dropped_on_resume()
    {
        using var dir = new TempDir();
        string input = EmbedTestData.WriteTextFile(dir, "in.txt", EmbedTestData.Lines(100));
        Embedder embedder = model.Embedder(Options);
        string reference = dir.File("reference.jsonl");
        await EmbedJob.RunAsync(embedder, Job(input, reference));

        string output = dir.File("out.jsonl");
        using (var cts = new CancellationTokenSource())
            await EmbedJob.RunAsync(embedder, Job(input, output), new CancelAfter(cts, 30), cts.Token);
        File.AppendAllText(output, "{\"index\":32,\"text\":\"half a li");   // what a kill mid-write leaves
        await EmbedJob.RunAsync(embedder, Job(input, output));
        Assert.Equal(File.ReadAllBytes(reference), File.ReadAllBytes(output));
    }

    [Fact]
    public async Task Resuming_with_different_settings_is_a_clear_error()
    {
        using var dir = new TempDir();
        string input = EmbedTestData.WriteTextFile(dir, "in.txt", EmbedTestData.Lines(100));
        string output = dir.File("out.csv");
        using (var cts = new CancellationTokenSource())
            await EmbedJob.RunAsync(model.Embedder(Options), Job(input, output), new CancelAfter(cts, 30), cts.Token);

        var other = model.Embedder(Options with { Pooling = Pooling.LastToken });
        var e = await Assert.ThrowsAsync<EmbedJobConflictException>(() => EmbedJob.RunAsync(other, Job(input, output)));
        Assert.Contains("pooling: Mean → LastToken", e.Message);
        Assert.Contains("EmbedJobOptions.Restart", e.Message);

        File.AppendAllText(input, "one more line\n");   // the input changed
        e = await Assert.ThrowsAsync<EmbedJobConflictException>(() => EmbedJob.RunAsync(model.Embedder(Options), Job(input, output)));
        Assert.Contains("input size", e.Message);

        var restarted = await EmbedJob.RunAsync(other, Job(input, output) with { Restart = true });
        Assert.Equal(101, restarted.Rows);
        Assert.Equal(0, restarted.ResumedRows);
    }

    [Fact]
    public async Task A_complete_output_is_not_overwritten_without_restart()
    {
        using var dir = new TempDir();
        string input = EmbedTestData.WriteTextFile(dir, "in.txt", EmbedTestData.Lines(10));
        string output = dir.File("out.csv");
        File.WriteAllText(output, "precious");
        var e = await Assert.ThrowsAsync<EmbedJobConflictException>(() => EmbedJob.RunAsync(model.Embedder(Options), Job(input, output)));
        Assert.Contains("already exists", e.Message);
        Assert.Equal("precious", File.ReadAllText(output));
        await EmbedJob.RunAsync(model.Embedder(Options), Job(input, output) with { Restart = true });
        Assert.StartsWith("index,text,", File.ReadAllText(output));
    }
}
