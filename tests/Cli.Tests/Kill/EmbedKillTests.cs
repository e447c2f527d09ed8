using System.Text.Json;
using MlPipelines.Jobs.Tests.EmbedJobs;
using MlPipelines.Tests.Support;
using Xunit.Abstractions;

namespace MlPipelines.Cli.Tests.Kill;

/// <summary>
/// <c>mlpipe embed</c> killed again and again at random moments: each kill leaves a resumable job (a progress file whose
/// committed rows match an uninterrupted run's), no output, or the complete output; rerunning finishes it to the bytes
/// of an uninterrupted run.
/// </summary>
public sealed class EmbedKillTests(ITestOutputHelper log)
{
    [Theory]
    [InlineData("csv")]
    [InlineData("jsonl")]
    [InlineData("parquet")]
    public void Repeated_kills_and_a_rerun_give_the_bytes_of_an_uninterrupted_run(string ext)
    {
        using var dir = new TempDir();
        string input = EmbedTestData.WriteTextFile(dir, "in.txt", EmbedTestData.Lines(2000, seed: 11));
        var harness = new KillHarness(log, seed: 53);
        harness.Environment["MLPIPE_CACHE"] = dir.File("cache");
        string referencePath = dir.File("reference." + ext);
        KillHarness.Result first = harness.Run("embed", "-i", input, "-o", referencePath);
        Assert.True(first.ExitCode == 0, first.Stderr);
        byte[] reference = File.ReadAllBytes(referencePath);

        string output = dir.File("out." + ext);
        string progress = output + ".mlpipe-progress";
        string[] args = ["embed", "-i", input, "-o", output];
        int none = 0, resumable = 0, complete = 0;
        TimeSpan[] delays = harness.Delays(first.Elapsed, 6);
        for (int i = 0; i < delays.Length; i++)
        {
            harness.RunAndKill(delays[i], args);   // resumes what the kills before left
            if (File.Exists(progress))
            {
                CheckCommitted(output, progress, reference, ext);
                resumable++;
            }
            else if (File.Exists(output))
            {
                // No progress file means finished: the output must be whole. Start the next kills from scratch.
                Assert.True(reference.AsSpan().SequenceEqual(File.ReadAllBytes(output)), $"kill {i}: {output} is complete by its progress file but differs from the reference");
                complete++;
                File.Delete(output);
            }
            else
                none++;
        }
        log.WriteLine($"{delays.Length} kills: {none} before the job started, {resumable} left a resumable job, {complete} after it finished");

        KillHarness.Result rerun = harness.Run(args);
        Assert.True(rerun.ExitCode == 0, rerun.Stderr);
        Assert.True(reference.AsSpan().SequenceEqual(File.ReadAllBytes(output)), "the rerun's output differs from the uninterrupted run's");
        Assert.False(File.Exists(progress));
        Assert.False(Directory.Exists(output + ".parts"));
    }

    /// <summary>What the progress file records as committed is there and agrees with the uninterrupted run.</summary>
    private static void CheckCommitted(string output, string progress, byte[] reference, string ext)
    {
        using var doc = JsonDocument.Parse(File.ReadAllBytes(progress));   // replaced atomically: always whole JSON
        long bytes = doc.RootElement.GetProperty("Bytes").GetInt64();
        int parts = doc.RootElement.GetProperty("Parts").GetInt32();
        if (ext == "parquet")
        {
            // Parts are whole files, each published by a rename before the progress file counts it.
            for (int p = 0; p < parts; p++)
                Assert.True(File.Exists(Path.Combine(output + ".parts", $"part-{p:D6}.parquet")), $"committed part {p} is missing");
            return;
        }
        if (bytes == 0) return;   // nothing committed yet; the output may not exist
        byte[] written = File.ReadAllBytes(output);
        Assert.True(written.Length >= bytes, $"{output} is shorter ({written.Length}) than its committed {bytes} bytes");
        Assert.True(written.AsSpan(0, (int)bytes).SequenceEqual(reference.AsSpan(0, (int)bytes)), "the committed rows differ from the uninterrupted run's");
    }
}
