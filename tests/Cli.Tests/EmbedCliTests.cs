using System.Diagnostics;
using System.Text.Json;
using MlPipelines.Jobs.Tests.EmbedJobs;
using MlPipelines.Tests.Support;
using Xunit.Abstractions;

namespace MlPipelines.Cli.Tests;

public class EmbedCliTests(ITestOutputHelper log)
{
    [Fact]
    public void Ten_thousand_lines_on_the_default_model_complete_with_progress_on_stderr()
    {
        using var dir = new TempDir();
        string input = EmbedTestData.WriteTextFile(dir, "stories.txt", EmbedTestData.Lines(10_000));
        string output = dir.File("stories.jsonl");

        var result = CliRunner.Run("embed", "--input", input, "--output", output);   // no --model: the default stories260K shipped beside mlpipe

        Assert.True(result.ExitCode == 0, result.Stderr);
        Assert.Empty(result.StdoutBytes);   // progress never goes to stdout
        string[] progress = result.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Contains(progress, l => l.StartsWith("embed: 5,0", StringComparison.Ordinal) && l.Contains("/10,000 rows (50%)"));   // a line per tenth, at batch granularity
        Assert.Contains("embed: 10,000 rows in ", progress[^1]);
        Assert.Contains(" rows/s -> ", progress[^1]);
        log.WriteLine(progress[^1]);
        Assert.Equal(10_000, File.ReadLines(output).Count());
        Assert.False(File.Exists(output + ".mlpipe-progress"));
    }

    [Theory]
    [InlineData("jsonl")]
    [InlineData("parquet")]
    public void A_killed_process_resumes_to_the_same_bytes_as_an_uninterrupted_run(string ext)
    {
        using var dir = new TempDir();
        // Enough rows that the job is still running when the poll below sees its first commits, even on a loaded
        // machine (the engine embeds a few thousand of these rows per second).
        string input = EmbedTestData.WriteTextFile(dir, "in.txt", EmbedTestData.Lines(8000, seed: 7));
        string reference = dir.File("reference." + ext);
        var uninterrupted = CliRunner.Run("embed", "-i", input, "-o", reference);
        Assert.True(uninterrupted.ExitCode == 0, uninterrupted.Stderr);

        string output = dir.File("out." + ext);
        long killedAt = RunAndKill(["embed", "-i", input, "-o", output], output + ".mlpipe-progress", killAfterRows: 200);
        Assert.InRange(killedAt, 200, 7999);
        Assert.True(File.Exists(output + ".mlpipe-progress"));

        var resumed = CliRunner.Run("embed", "-i", input, "-o", output);
        Assert.True(resumed.ExitCode == 0, resumed.Stderr);
        Assert.Contains("resumed", resumed.Stderr);
        Assert.Equal(File.ReadAllBytes(reference), File.ReadAllBytes(output));
    }

    [Fact]
    public void Resuming_a_different_job_is_a_one_line_error()
    {
        using var dir = new TempDir();
        string input = EmbedTestData.WriteTextFile(dir, "in.txt", EmbedTestData.Lines(50));
        string output = dir.File("out.csv");
        File.WriteAllText(output + ".mlpipe-progress", "");   // stands in for any unreadable/foreign progress
        var result = CliRunner.Run("embed", "-i", input, "-o", output);
        Assert.Equal(1, result.ExitCode);
        Assert.StartsWith("mlpipe: error: ", result.Stderr);
        Assert.Contains("--restart", result.Stderr);

        Assert.Equal(0, CliRunner.Run("embed", "-i", input, "-o", output, "--restart").ExitCode);
        var again = CliRunner.Run("embed", "-i", input, "-o", output, "--pooling", "last");
        Assert.Equal(1, again.ExitCode);
        Assert.Contains("already exists", again.Stderr);
    }

    [Fact]
    public void Bad_input_is_a_one_line_error_naming_file_and_line()
    {
        using var dir = new TempDir();
        string input = dir.File("in.jsonl");
        File.WriteAllText(input, "{\"text\":\"ok\"}\n{\"body\":\"x\"}\n");
        var result = CliRunner.Run("embed", "-i", input, "-o", dir.File("out.csv"));
        Assert.Equal(1, result.ExitCode);
        Assert.Contains($"mlpipe: error: {input}: line 2: the object has no field 'text'", result.Stderr);
        Assert.False(File.Exists(dir.File("out.csv")));   // validated before anything is written
    }

    /// <summary>Runs <c>dotnet mlpipe.dll</c> and kills it once its progress file records enough rows.</summary>
    private static long RunAndKill(string[] args, string progressFile, long killAfterRows)
    {
        string cli = Path.Combine(AppContext.BaseDirectory, "mlpipe.dll");
        var start = new ProcessStartInfo("dotnet") { RedirectStandardError = true, RedirectStandardOutput = true, WorkingDirectory = Directory.GetCurrentDirectory() };   // as the in-process runs, so the default model resolves to the same files
        start.ArgumentList.Add(cli);
        foreach (string a in args) start.ArgumentList.Add(a);
        using var process = Process.Start(start)!;
        process.ErrorDataReceived += (_, _) => { };
        process.OutputDataReceived += (_, _) => { };
        process.BeginErrorReadLine();
        process.BeginOutputReadLine();
        var deadline = Stopwatch.StartNew();
        while (deadline.Elapsed < TimeSpan.FromMinutes(2))
        {
            Assert.False(process.HasExited, "the job finished before it could be killed");
            long rows = CommittedRows(progressFile);
            if (rows >= killAfterRows)
            {
                process.Kill(entireProcessTree: true);   // SIGKILL: no chance to clean up
                process.WaitForExit();
                return CommittedRows(progressFile);
            }
            Thread.Sleep(5);
        }
        throw new TimeoutException("the job never reached the row count to kill it at");
    }

    private static long CommittedRows(string progressFile)
    {
        try
        {
            using var doc = JsonDocument.Parse(File.ReadAllBytes(progressFile));
            return doc.RootElement.GetProperty("Rows").GetInt64();
        }
        catch (Exception e) when (e is IOException or JsonException)
        {
            return -1;   // not written yet
        }
    }
}
