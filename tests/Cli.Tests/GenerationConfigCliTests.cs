using MlPipelines.Tests.Support;

namespace MlPipelines.Cli.Tests;

/// <summary>
/// A Hugging Face directory's generation_config.json sets the sampling defaults of <c>generate</c> and <c>chat</c>; flags
/// given on the command line still win.
/// </summary>
public class GenerationConfigCliTests
{
    private static string ModelWith(TempDir dir, string? generationConfig)
    {
        string model = dir.File("model");
        Directory.CreateDirectory(model);
        foreach (string file in Directory.GetFiles(Path.Combine(TestPaths.Models, "stories260K-hf")))
            File.Copy(file, Path.Combine(model, Path.GetFileName(file)));
        File.Copy(Path.Combine(TestPaths.Models, "stories260K", "tok512.model"), Path.Combine(model, "tokenizer.model"));
        if (generationConfig is not null)
            File.WriteAllText(Path.Combine(model, "generation_config.json"), generationConfig);
        return model;
    }

    private static string Generate(string model, params string[] flags)
    {
        var run = CliRunner.Run(["generate", "--model", model, "-i", "Once upon a time", "-n", "60", .. flags]);
        Assert.True(run.ExitCode == 0, run.Stderr);
        return run.Stdout;
    }

    [Fact]
    public void Greedy_generation_config_makes_generate_greedy_unless_a_temperature_is_given()
    {
        using var dir = new TempDir();
        string plain = ModelWith(dir, null);
        string greedy = Generate(plain, "-t", "0");
        Assert.NotEqual(greedy, Generate(plain, "--seed", "5"));   // run.c's default: temperature 1

        using var dir2 = new TempDir();
        string configured = ModelWith(dir2, """{"do_sample": false, "eos_token_id": 2}""");
        Assert.Equal(greedy, Generate(configured, "--seed", "5"));
        Assert.Equal(Generate(plain, "--seed", "5"), Generate(configured, "--seed", "5", "-t", "1"));
    }

    [Fact]
    public void Sampling_settings_of_the_file_are_used_and_each_flag_overrides_its_own()
    {
        using var dir = new TempDir();
        string plain = ModelWith(dir, null);
        using var dir2 = new TempDir();
        string configured = ModelWith(dir2, """{"do_sample": true, "temperature": 0.7, "top_k": 5}""");   // top_p: transformers' 1.0
        Assert.Equal(Generate(plain, "-t", "0.7", "-p", "1", "--top-k", "5", "--seed", "9"), Generate(configured, "--seed", "9"));
        Assert.Equal(Generate(plain, "-t", "0.7", "-p", "0.5", "--top-k", "5", "--seed", "9"), Generate(configured, "--seed", "9", "-p", "0.5"));
    }

    [Fact]
    public void Invalid_generation_config_is_named()
    {
        using var dir = new TempDir();
        string model = ModelWith(dir, """{"do_sample": true, "temperature": -1}""");
        var run = CliRunner.Run("generate", "--model", model, "-n", "5");
        Assert.Equal(1, run.ExitCode);
        Assert.Contains("generation_config.json: temperature = -1; expected a number ≥ 0", run.Stderr);
    }
}
