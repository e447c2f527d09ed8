using MlPipelines.Tests.Support;

namespace MlPipelines.Cli.Tests;

/// <summary>Every command takes a Hugging Face directory or a GGUF file wherever it takes a model.</summary>
public class ModelFormatCliTests
{
    private static string TinyGguf => Path.Combine(TestPaths.Models, "tiny-random-gguf", "llama-2-tiny-random.gguf");
    private static string Stories260KHf => Path.Combine(TestPaths.Models, "stories260K-hf");

    [Fact]
    public void Generate_from_the_Hugging_Face_directory_prints_run_c_s_greedy_story()
    {
        byte[] expected = File.ReadAllBytes(Path.Combine(TestPaths.Golden, "greedy_bos_256.txt"));
        var result = CliRunner.Run("generate", "--model", Stories260KHf, "--tokenizer", TestPaths.Tok512Model, "-t", "0");
        Assert.True(result.ExitCode == 0, result.Stderr);
        Assert.Equal(expected.Append((byte)'\n').ToArray(), result.StdoutBytes);
    }

    [Fact]
    public void Tokenize_uses_the_tokenizer_inside_a_gguf_file()
    {
        var result = CliRunner.Run("tokenize", "-z", TinyGguf, "--text", "I believe the meaning of life is");
        Assert.True(result.ExitCode == 0, result.Stderr);
        Assert.Equal("1 306 4658 278 6593 310 2834 338", result.Stdout.Trim());
    }

    [Fact]
    public void Generate_from_a_gguf_directory_uses_its_embedded_tokenizer()
    {
        var result = CliRunner.Run("generate", "--model", Path.GetDirectoryName(TinyGguf)!, "-t", "0", "-n", "12", "-i", "Hello");
        Assert.True(result.ExitCode == 0, result.Stderr);
        Assert.StartsWith("Hello", result.Stdout);
    }

    [Fact]
    public void A_model_directory_without_a_tokenizer_says_how_to_name_one()
    {
        var result = CliRunner.Run("generate", "--model", Stories260KHf, "-n", "5");
        Assert.Equal(1, result.ExitCode);
        Assert.Contains("No tokenizer beside", result.Stderr);
        Assert.Contains("--tokenizer", result.Stderr);
    }
}
