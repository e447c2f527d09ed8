using MlPipelines.Tests.Support;
using Xunit.Abstractions;

namespace MlPipelines.Cli.Tests.Kill;

/// <summary>
/// <see cref="Pipelines.Transforms.LlamaPipelineModel.Save"/> in a process killed at random moments: the pipeline file
/// is the previous one or the complete new one. A zip records when each entry was written, so two saves are compared
/// by their entries' names and contents (nested ML.NET zips likewise), not byte for byte.
/// </summary>
public sealed class PipelineSaveKillTests(ITestOutputHelper log)
{
    [Fact]
    public void A_killed_save_leaves_the_previous_pipeline_or_the_complete_new_one()
    {
        using var dir = new TempDir();
        var harness = new KillHarness(log, seed: 71) { Program = Path.Combine(AppContext.BaseDirectory, "MlPipelines.Cli.Tests.dll") };
        harness.Environment["MLPIPE_CACHE"] = dir.File("cache");
        string previous = dir.File("previous.zip");
        KillHarness.Result old = harness.Run("save-pipeline", TestPaths.Stories260K, TestPaths.Tok512Bin, previous, "small");
        Assert.True(old.ExitCode == 0, old.Stderr);

        string output = Path.Combine(dir.Path, "out", "pipeline.zip");
        new ReplaceScenario(harness, log) { Canonical = Entries }.Run(
            ["save-pipeline", TestPaths.Stories260K, TestPaths.Tok512Bin, output], output, previous, kills: 8);
    }

    // A torn zip cannot be listed: it stays as it is, and differs from both whole files.
    private static byte[] Entries(byte[] zip)
    {
        try { return OutputSnapshot.ZipEntries(zip); }
        catch (InvalidDataException) { return zip; }
    }
}
