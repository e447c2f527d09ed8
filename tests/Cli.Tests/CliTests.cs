using MlPipelines.ManagedEngine.Formats;
using MlPipelines.ManagedEngine.Formats.Llama2c;
using MlPipelines.Tests.Support;

namespace MlPipelines.Cli.Tests;

public class CliTests
{
    [Fact]
    public void Tokenize_prints_ids_and_decodes_them_back()
    {
        var encoded = CliRunner.Run("tokenize", "-z", TestPaths.Llama2TokenizerBin, "--text", "I believe the meaning of life is");
        Assert.True(encoded.ExitCode == 0, encoded.Stderr);
        Assert.Equal("1 306 4658 278 6593 310 2834 338", encoded.Stdout.Trim());

        var decoded = CliRunner.Run("tokenize", "-z", TestPaths.Llama2TokenizerModel, "--decode", "--text", encoded.Stdout.Trim());
        Assert.True(decoded.ExitCode == 0, decoded.Stderr);
        Assert.Equal("I believe the meaning of life is", decoded.Stdout.TrimEnd('\n'));
    }

    [Fact]
    public void Tokenize_lines_and_no_bos()
    {
        var result = CliRunner.Run("tokenize", "-z", TestPaths.Llama2TokenizerModel, "--lines", "--no-bos", "--text", "Hello\nworld\n");
        Assert.True(result.ExitCode == 0, result.Stderr);
        string[] lines = result.Stdout.TrimEnd('\n').Split('\n');
        Assert.Equal(2, lines.Length);
        Assert.Equal("15043", lines[0]);     // "▁Hello"
        Assert.Equal("3186", lines[1]);      // "▁world"
    }

    [Fact]
    public void Tokenize_finds_the_tokenizer_beside_a_model()
    {
        var result = CliRunner.Run("tokenize", "-z", TestPaths.Stories260K, "--text", "Once upon a time");
        Assert.True(result.ExitCode == 0, result.Stderr);
        Assert.StartsWith("1 ", result.Stdout);
    }

    [Fact]
    public void Bad_token_ids_are_a_clear_error()
    {
        var result = CliRunner.Run("tokenize", "-z", TestPaths.Tok512Bin, "--decode", "--text", "1 2 banana");
        Assert.Equal(1, result.ExitCode);
        Assert.Contains("'banana' is not a token id", result.Stderr);
    }

    [Fact]
    public void Missing_model_is_a_clear_error_not_a_crash()
    {
        var result = CliRunner.Run("generate", "--model", "no-such-model-anywhere", "-n", "5");
        Assert.Equal(1, result.ExitCode);
        Assert.Contains("no-such-model-anywhere", result.Stderr);
        Assert.Contains("not found", result.Stderr);
    }

    [Theory]
    [InlineData("-t", "-1")]
    [InlineData("-p", "-0.5")]
    [InlineData("-n", "-3")]
    [InlineData("--top-k", "-2")]
    public void Invalid_sampling_arguments_are_rejected(string flag, string value)
    {
        var result = CliRunner.Run("generate", flag, value);
        Assert.NotEqual(0, result.ExitCode);
        Assert.Contains("must be", result.Stderr);
    }

    [Fact]
    public void Prompt_and_long_flags_generate_text_starting_with_the_prompt()
    {
        var result = CliRunner.Run("generate", "--prompt", "Once upon a time", "--steps", "40", "--temperature", "0.8", "--top-k", "20", "--seed", "42");
        Assert.True(result.ExitCode == 0, result.Stderr);
        Assert.StartsWith("Once upon a time", result.Stdout);
        Assert.True(result.Stdout.Length > "Once upon a time".Length + 20);
    }

    [Fact]
    public void Synth_writes_a_loadable_checkpoint_and_refuses_to_overwrite()
    {
        using var dir = new TempDir();
        string path = dir.File("tiny.bin");
        var first = CliRunner.Run("synth", "--dim", "32", "--hidden", "64", "--layers", "2", "--heads", "4", "--kv-heads", "2",
            "--vocab", "64", "--seq", "16", "--out", path, "--seed", "3");
        Assert.True(first.ExitCode == 0, first.Stderr);
        using (var weights = Llama2cCheckpoint.Load(path))
        {
            Assert.Equal(2, weights.Config.KvHeadCount);
            Assert.Equal(16, weights.Config.MaxSequenceLength);
        }
        var again = CliRunner.Run("synth", "--dim", "32", "--hidden", "64", "--layers", "2", "--heads", "4",
            "--vocab", "64", "--seq", "16", "--out", path);
        Assert.Equal(1, again.ExitCode);
        Assert.Contains("exists", again.Stderr);
    }

    [Fact]
    public void Synth_rejects_an_unknown_shape()
    {
        using var dir = new TempDir();
        var result = CliRunner.Run("synth", "--shape", "7b", "--out", dir.File("x.bin"));
        Assert.Equal(1, result.ExitCode);
        Assert.Contains("15m", result.Stderr);
        Assert.False(File.Exists(dir.File("x.bin")));
    }
}
