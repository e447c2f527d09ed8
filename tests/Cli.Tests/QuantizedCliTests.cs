using MlPipelines.Tests.Support;

namespace MlPipelines.Cli.Tests;

/// <summary><c>mlpipe quantize</c> and <c>--kv f16</c> from the command line.</summary>
public class QuantizedCliTests
{
    [Fact]
    public void Quantize_writes_a_gguf_that_generates_and_names_its_format()
    {
        using var dir = new TempDir();
        string q8 = dir.File("s.gguf");
        var quantize = CliRunner.Run("quantize", "--model", "stories260K", "--tokenizer", Path.Combine(TestPaths.Models, "stories260K", "tok512.model"),
            "--to", "q8_0", "--out", q8);
        Assert.True(quantize.ExitCode == 0, quantize.Stderr);
        Assert.Contains("Q8_0", quantize.Stdout);
        var generate = CliRunner.Run("generate", "--model", q8, "-i", "Once upon a time", "-t", "0", "-n", "40");
        Assert.True(generate.ExitCode == 0, generate.Stderr);
        Assert.StartsWith("Once upon a time", generate.Stdout);

        var again = CliRunner.Run("quantize", "--model", "stories260K", "--to", "q8_0", "--out", q8);
        Assert.Equal(1, again.ExitCode);
        Assert.Contains("exists; pass --force", again.Stderr);
    }

    [Fact]
    public void Fp16_kv_cache_is_a_managed_engine_setting()
    {
        var half = CliRunner.Run("generate", "--model", "stories260K", "-i", "Once upon a time", "-t", "0", "-n", "40", "--kv", "f16");
        Assert.True(half.ExitCode == 0, half.Stderr);
        Assert.StartsWith("Once upon a time", half.Stdout);
        var onnx = CliRunner.Run("generate", "--model", "stories260K", "--engine", "onnx", "--kv", "f16", "-n", "5");
        Assert.Equal(1, onnx.ExitCode);
        Assert.Contains("--kv f16 applies to the managed engine", onnx.Stderr);
    }
}
