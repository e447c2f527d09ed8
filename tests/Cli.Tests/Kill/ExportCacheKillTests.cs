using MlPipelines.Tests.Support;
using Xunit.Abstractions;

namespace MlPipelines.Cli.Tests.Kill;

/// <summary>
/// <c>mlpipe generate --engine onnx</c> exports the model into the cache (<see cref="OnnxEngine.OnnxExportCache"/>) the first
/// time: killed at random moments, the cache holds no entry or the complete one, and the next run uses or makes it.
/// </summary>
public sealed class ExportCacheKillTests(MediumModelFixture model, ITestOutputHelper log) : IClassFixture<MediumModelFixture>
{
    [Fact]
    public void A_killed_first_onnx_run_leaves_no_cache_entry_or_the_complete_one()
    {
        using var dir = new TempDir();
        string[] args = ["generate", "--model", model.Checkpoint, "-z", TestPaths.Tok512Model, "-i", "Once upon", "-n", "12", "-t", "0", "--engine", "onnx"];

        var harness = new KillHarness(log, seed: 41);
        harness.Environment["MLPIPE_CACHE"] = dir.File("reference-cache");
        KillHarness.Result first = harness.Run(args, watch: dir.File("reference-cache"));
        Assert.True(first.ExitCode == 0, first.Stderr);
        string entry = Assert.Single(Directory.GetDirectories(Path.Combine(dir.File("reference-cache"), "onnx")));
        OutputSnapshot reference = OutputSnapshot.Take(entry);

        string cache = dir.File("cache");
        string exports = Path.Combine(cache, "onnx");
        string output = Path.Combine(exports, Path.GetFileName(entry));
        harness.Environment["MLPIPE_CACHE"] = cache;
        int none = 0, complete = 0;
        // Half the kills spread over the whole run, half from the first change in the cache (the export starting).
        TimeSpan[] whole = harness.Delays(first.Elapsed, 4);
        TimeSpan[] fromExport = harness.Delays(first.Elapsed - (first.FirstChange ?? TimeSpan.Zero), 4, "from the first change in the cache");
        TimeSpan[] delays = [.. whole.Zip(fromExport).SelectMany(p => new[] { p.First, p.Second })];
        for (int i = 0; i < delays.Length; i++)
        {
            OutputSnapshot.Delete(output);   // the leftovers of earlier kills stay
            harness.RunAndKill(delays[i], args, watch: i % 2 == 1 ? cache : null);
            OutputSnapshot after = OutputSnapshot.Take(output);
            if (!after.Exists) none++;
            else if (after.SameAs(reference)) complete++;
            else Assert.Fail($"kill {i} after {delays[i].TotalMilliseconds:F0} ms left a torn cache entry: {after}; expected {reference}");
            // Beside it, only hidden temporary directories, which the cache never takes for an export.
            if (Directory.Exists(exports))
                Assert.All(Directory.GetFileSystemEntries(exports).Select(Path.GetFileName).Where(n => n != Path.GetFileName(output)),
                    name => Assert.StartsWith(".", name));
        }
        log.WriteLine($"{delays.Length} kills: {none} left no entry, {complete} the complete one; " +
            $"{(Directory.Exists(exports) ? Directory.GetFileSystemEntries(exports).Length : 0)} entries in the cache folder");

        KillHarness.Result rerun = harness.Run(args);
        Assert.True(rerun.ExitCode == 0, rerun.Stderr);
        Assert.Equal(first.Stdout, rerun.Stdout);
        Assert.True(OutputSnapshot.Take(output).SameAs(reference));
    }
}
