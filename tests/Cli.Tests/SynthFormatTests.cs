using System.Text.Json.Nodes;
using MlPipelines.ManagedEngine.Loading;
using MlPipelines.ManagedEngine.Model;
using MlPipelines.Tests.Support;

namespace MlPipelines.Cli.Tests;

/// <summary><c>mlpipe synth --format hf</c>: the same seeded weights as a Hugging Face directory, with the shape's RoPE settings.</summary>
public class SynthFormatTests
{
    private static readonly string[] Small = ["--dim", "64", "--hidden", "160", "--layers", "2", "--heads", "8", "--kv-heads", "2", "--vocab", "300", "--seq", "64"];

    [Fact]
    public void Hugging_face_form_holds_the_llama2c_form_s_weights()
    {
        using var dir = new TempDir();
        Assert.Equal(0, CliRunner.Run(["synth", "-o", dir.File("m.bin"), "--seed", "4", .. Small]).ExitCode);
        var hf = CliRunner.Run(["synth", "-o", dir.File("hf"), "--format", "hf", "--seed", "4", .. Small]);
        Assert.True(hf.ExitCode == 0, hf.Stderr);

        using var bin = ManagedModelLoader.LoadModel(dir.File("m.bin"));
        // The loader runs a Hugging Face directory's weights as stored; read them widened (and q/k reordered) to compare.
        using var directory = MlPipelines.ManagedEngine.Formats.Safetensors.HuggingFaceCheckpoint.Load(dir.File("hf"));
        Assert.Equal(bin.Config with { NormEpsilon = directory.Config.NormEpsilon }, directory.Config);
        Assert.True(bin.Weights.TokenEmbedding.Span.SequenceEqual(directory.TokenEmbedding.Span));
        Assert.True(bin.Weights.Layers[1].Wk.Span.SequenceEqual(directory.Layers[1].Wk.Span));
    }

    [Fact]
    public void The_llama3_shape_keeps_its_rope_settings_and_refuses_the_llama2c_form()
    {
        using var dir = new TempDir();
        var hf = CliRunner.Run(["synth", "--shape", "llama3-1b", "-o", dir.File("hf"), "--format", "hf", .. Small]);
        Assert.True(hf.ExitCode == 0, hf.Stderr);
        JsonNode config = JsonNode.Parse(File.ReadAllText(dir.File("hf/config.json")))!;
        Assert.Equal(500000.0, config["rope_theta"]!.GetValue<double>());
        Assert.Equal("llama3", config["rope_scaling"]!["rope_type"]!.GetValue<string>());
        using (var model = ManagedModelLoader.LoadModel(dir.File("hf")))
            Assert.Equal(ModelShapes.Llama3_1B.RopeScaling, model.Config.RopeScaling);

        var bin = CliRunner.Run("synth", "--shape", "llama3-1b", "-o", dir.File("m.bin"));
        Assert.Equal(1, bin.ExitCode);
        Assert.Contains("--format hf", bin.Stderr);
        Assert.False(File.Exists(dir.File("m.bin")));

        var again = CliRunner.Run(["synth", "--shape", "llama3-1b", "-o", dir.File("hf"), "--format", "hf", .. Small]);
        Assert.Equal(1, again.ExitCode);
        Assert.Contains("--force", again.Stderr);
    }
}
