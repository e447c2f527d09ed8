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
            Assert.Equal(("fused", "int4", 128), (model.Manifest.Profile, model.Manifest.Weights, model.Manifest.BlockSize));

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

    /// <summary>
    /// A Q4_0 GGUF exported as int4: in the default blocks of 128 its Q4_0 blocks (and its classifier's: Q8_0, as llama.cpp
    /// writes rows of 64) are quantised again, which the command says, naming the flag that carries them; with
    /// <c>--block-size 32</c> the Q4_0 blocks are carried (only the classifier is quantised again) and the manifest says 32.
    /// A block size for fp32 weights is refused by flag.
    /// </summary>
    [Fact]
    public void Exporting_q4_0_blocks_in_other_blocks_says_so_and_names_the_flag_that_carries_them()
    {
        using var dir = new TempDir();
        var config = new ManagedEngine.Model.ModelConfig
        {
            Dim = 64, HiddenDim = 128, LayerCount = 1, HeadCount = 4, KvHeadCount = 2, VocabSize = 512, MaxSequenceLength = 64,
            SharedClassifier = false,
        };
        string f32 = dir.File("f32.gguf"), q4 = dir.File("q4_0.gguf");
        ManagedEngine.Formats.Gguf.GgufCheckpointWriter.WriteRandom(f32, config, seed: 5);
        using (var weights = ManagedEngine.Formats.Gguf.GgufCheckpoint.Load(f32))
            ManagedEngine.Formats.Gguf.GgufCheckpointWriter.Write(weights, q4,
                new ManagedEngine.Formats.Gguf.GgufWriteOptions { Quantization = ManagedEngine.Formats.Gguf.GgufQuantization.Q4_0 });

        var byDefault = CliRunner.Run("export", "--model", q4, "-z", TestPaths.Tok512Model, "--out", dir.File("b128"), "--profile", "fused", "--weights", "int4");
        Assert.True(byDefault.ExitCode == 0, byDefault.Stderr);
        Assert.Contains("note: matrices stored as Q4_0, Q8_0 were dequantised and quantised again as int4 in blocks of 128", byDefault.Stderr);
        Assert.Contains("--block-size 32", byDefault.Stderr);

        var carried = CliRunner.Run("export", "--model", q4, "-z", TestPaths.Tok512Model, "--out", dir.File("b32"), "--profile", "fused", "--weights", "int4",
            "--block-size", "32");
        Assert.True(carried.ExitCode == 0, carried.Stderr);
        Assert.Contains("note: matrices stored as Q8_0 were", carried.Stderr);
        Assert.DoesNotContain("--block-size", carried.Stderr);
        Assert.Equal(32, MlPipelines.Exporter.ExportManifest.Read(dir.File("b32")).BlockSize);

        var fp32 = CliRunner.Run("export", "--model", q4, "-z", TestPaths.Tok512Model, "--out", dir.File("f"), "--profile", "fused", "--block-size", "64");
        Assert.NotEqual(0, fp32.ExitCode);
        Assert.Contains("int4/int8", fp32.Stderr);
        Assert.DoesNotContain("   at ", fp32.Stderr);
        Assert.False(Directory.Exists(dir.File("f")));
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
