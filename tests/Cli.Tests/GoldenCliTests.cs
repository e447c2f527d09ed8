using MlPipelines.Tests.Support;

namespace MlPipelines.Cli.Tests;

/// <summary><c>mlpipe generate</c> against llama2.c run.c's own output on stories260K, byte for byte.</summary>
public class GoldenCliTests
{
    public static TheoryData<string, string[]> GoldenCases => new()
    {
        { "greedy_bos_256", ["-t", "0.0", "-n", "256"] },
        { "sample_bos_t1_p09_s133742", ["-t", "1.0", "-p", "0.9", "-s", "133742", "-n", "256"] },
    };

    [Theory]
    [MemberData(nameof(GoldenCases))]
    public void Cli_prints_exactly_what_run_c_printed(string golden, string[] runArgs)
    {
        byte[] expected = File.ReadAllBytes(Path.Combine(TestPaths.Golden, golden + ".txt"));
        var result = CliRunner.Run(["generate", TestPaths.Stories260K, "-z", TestPaths.Tok512Bin, .. runArgs]);
        Assert.True(result.ExitCode == 0, result.Stderr);
        Assert.Equal(expected.Append((byte)'\n').ToArray(), result.StdoutBytes);
        Assert.Contains("achieved tok/s", result.Stderr);
    }

    [Fact]
    public void Sentencepiece_model_tokenizer_prints_the_same_story()
    {
        byte[] expected = File.ReadAllBytes(Path.Combine(TestPaths.Golden, "greedy_bos_256.txt"));
        var result = CliRunner.Run("generate", "--model", TestPaths.Stories260K, "--tokenizer", TestPaths.Tok512Model, "--temperature", "0");
        Assert.True(result.ExitCode == 0, result.Stderr);
        Assert.Equal(expected.Append((byte)'\n').ToArray(), result.StdoutBytes);
    }

    [Fact]
    public void Default_model_is_stories260K_with_its_tokenizer()
    {
        byte[] expected = File.ReadAllBytes(Path.Combine(TestPaths.Golden, "greedy_bos_256.txt"));
        var result = CliRunner.Run("generate", "-t", "0");
        Assert.True(result.ExitCode == 0, result.Stderr);
        Assert.Equal(expected.Append((byte)'\n').ToArray(), result.StdoutBytes);
    }
}
