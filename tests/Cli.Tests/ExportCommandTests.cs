using MlPipelines.OnnxEngine;
using MlPipelines.OnnxEngine.Tests.Onnx;
using MlPipelines.Tests.Support;

namespace MlPipelines.Cli.Tests;

/// <summary><c>mlpipe export</c>: errors in terms of its flags.</summary>
public class ExportCommandTests(ExportedStoriesFixture f) : IClassFixture<ExportedStoriesFixture>
{
    [Fact]
    public void Export_to_an_existing_directory_needs_force()
    {
        var result = CliRunner.Run("export", "--model", TestPaths.Stories260K, "--out", f.ExportDirectory);
        Assert.Equal(1, result.ExitCode);
        Assert.Contains("--force", result.Stderr);
        using var model = OnnxLanguageModel.Load(f.ExportDirectory);   // untouched and still loadable
    }
}

/// <summary><c>mlpipe export --profile fused --weights …</c>, then the other commands on the export.</summary>
public class FusedExportCommandTests
{
    [Fact]
    public void A_fused_int4_export_runs_in_generate_and_parity_reports_its_contract()
    {
        using var dir = new TempDir();
        string onnx = dir.File("int4");
        var export = CliRunner.Run("export", "--model", TestPaths.Stories260K, "--out", onnx, "--profile", "fused", "--weights", "int4");
        Assert.True(export.ExitCode == 0, export.Stderr);
        using (var model = OnnxLanguageModel.Load(onnx))
            Assert.Equal(("fused", "int4"), (model.Manifest.Profile, model.Manifest.Weights));

        var generate = CliRunner.Run("generate", "--engine", "onnx", "--model", onnx, "-t", "0", "-n", "24", "-i", "Once upon a time");
        Assert.True(generate.ExitCode == 0, generate.Stderr);
        Assert.StartsWith("Once upon a time", generate.Stdout);

        string prompts = dir.File("prompts.txt");
        File.WriteAllText(prompts, "Once upon a time\n");
        // int4 weights are not the checkpoint's fp32: the report says so by its numbers, within a loose bound.
        var parity = CliRunner.Run("parity", "--onnx", onnx, "--prompts", prompts, "-n", "8", "--max-abs-diff", "10", "--min-cosine", "0.9",
            "--allow-greedy-divergence");
        Assert.Contains("share one KV buffer", parity.Stdout + parity.Stderr);
    }

    [Theory]
    [InlineData("--weights", "int4")]
    [InlineData("--weights", "int3")]
    [InlineData("--profile", "turbo")]
    public void Bad_profile_and_weights_combinations_are_refused_by_flag(string flag, string value)
    {
        using var dir = new TempDir();
        var result = CliRunner.Run("export", "--model", TestPaths.Stories260K, "--out", dir.File("x"), flag, value);
        Assert.NotEqual(0, result.ExitCode);
        Assert.Contains(value == "int4" ? "--profile fused" : value, result.Stderr);
        Assert.DoesNotContain("   at ", result.Stderr);
        Assert.False(Directory.Exists(dir.File("x")));
    }
}
