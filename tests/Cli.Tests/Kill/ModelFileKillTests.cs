using MlPipelines.Tests.Support;
using Xunit.Abstractions;

namespace MlPipelines.Cli.Tests.Kill;

/// <summary>
/// A random-weight model of a few megabytes (synthesised once per test class): big enough that writing it takes a good
/// part of a command's run, so kills land while files are being written, not only during start-up.
/// </summary>
public sealed class MediumModelFixture : IDisposable
{
    private readonly TempDir _dir = new();

    public MediumModelFixture()
    {
        var result = CliRunner.Run(["synth", "-o", Checkpoint, .. Shape, "--seed", "5"]);
        Assert.True(result.ExitCode == 0, result.Stderr);
    }

    /// <summary>The synth flags of the shape: 4 layers of width 192, vocabulary 512 (tok512's).</summary>
    public static readonly string[] Shape = ["--dim", "192", "--hidden", "512", "--layers", "4", "--heads", "6", "--vocab", "512", "--seq", "128"];

    /// <summary>The llama2.c checkpoint (about 5 MB).</summary>
    public string Checkpoint => _dir.File("medium.bin");

    public void Dispose() => _dir.Dispose();
}

/// <summary><c>mlpipe export</c> killed at random moments: the export directory is the old one or the new one, whole.</summary>
public sealed class ExportKillTests(MediumModelFixture model, ITestOutputHelper log) : IClassFixture<MediumModelFixture>
{
    [Fact]
    public void A_killed_export_leaves_the_previous_directory_or_the_complete_new_one()
    {
        using var dir = new TempDir();
        var harness = new KillHarness(log, seed: 17);
        harness.Environment["MLPIPE_CACHE"] = dir.File("cache");   // the file-hash store, never the user's
        string previous = dir.File("previous");
        Assert.Equal(0, CliRunner.Run("export", "--model", TestPaths.Stories260K, "-o", previous).ExitCode);

        string output = Path.Combine(dir.Path, "out", "onnx");
        new ReplaceScenario(harness, log).Run(
            ["export", "--model", model.Checkpoint, "-z", TestPaths.Tok512Model, "-o", output, "--external-data", "--force"],
            output, previous, kills: 8);
    }
}

/// <summary><c>mlpipe quantize</c> killed at random moments: the GGUF file is the old one or the new one, whole.</summary>
public sealed class QuantizeKillTests(MediumModelFixture model, ITestOutputHelper log) : IClassFixture<MediumModelFixture>
{
    [Fact]
    public void A_killed_quantize_leaves_the_previous_file_or_the_complete_new_one()
    {
        using var dir = new TempDir();
        var harness = new KillHarness(log, seed: 23);
        harness.Environment["MLPIPE_CACHE"] = dir.File("cache");
        string previous = dir.File("previous.gguf");
        Assert.Equal(0, CliRunner.Run("quantize", "--model", TestPaths.Stories260K, "-z", TestPaths.Tok512Model, "--to", "q8_0", "-o", previous).ExitCode);

        string output = Path.Combine(dir.Path, "out", "medium.gguf");
        new ReplaceScenario(harness, log).Run(
            ["quantize", "--model", model.Checkpoint, "-z", TestPaths.Tok512Model, "--to", "q4_k_m", "-o", output, "--force"],
            output, previous, kills: 8);
    }
}

/// <summary><c>mlpipe synth</c> in each format killed at random moments: the model is the old one or the new one, whole.</summary>
public sealed class SynthKillTests(ITestOutputHelper log)
{
    [Theory]
    [InlineData("llama2c", "model.bin")]
    [InlineData("hf", "model")]   // a directory: config.json, model.safetensors and the tokenizer together
    [InlineData("gguf", "model.gguf")]
    public void A_killed_synth_leaves_the_previous_model_or_the_complete_new_one(string format, string name)
    {
        using var dir = new TempDir();
        var harness = new KillHarness(log, seed: 31);
        harness.Environment["MLPIPE_CACHE"] = dir.File("cache");
        string[] tokenizer = format == "llama2c" ? [] : ["--tokenizer", TestPaths.Tok512Model];
        string previous = dir.File("previous-" + name);
        var old = CliRunner.Run(["synth", "--format", format, "-o", previous, "--seed", "1", .. MediumModelFixture.Shape, .. tokenizer]);
        Assert.True(old.ExitCode == 0, old.Stderr);

        string output = Path.Combine(dir.Path, "out", name);
        new ReplaceScenario(harness, log).Run(
            ["synth", "--format", format, "-o", output, "--seed", "2", "--force", .. MediumModelFixture.Shape, .. tokenizer],
            output, previous, kills: 8);
    }
}
