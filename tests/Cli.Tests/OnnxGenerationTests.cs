using MlPipelines.OnnxEngine.Tests.Onnx;
using MlPipelines.Tests.Support;

namespace MlPipelines.Cli.Tests;

/// <summary>`mlpipe generate --engine onnx` against llama2.c's golden output.</summary>
public class OnnxGenerationTests(ExportedStoriesFixture f) : IClassFixture<ExportedStoriesFixture>
{
    [Theory]
    [InlineData("greedy_bos_256", new[] { "-t", "0.0", "-n", "256" })]
    [InlineData("sample_bos_t1_p09_s133742", new[] { "-t", "1.0", "-p", "0.9", "-s", "133742", "-n", "256" })]
    public void Onnx_engine_prints_the_golden_text(string golden, string[] runArgs)
    {
        byte[] expected = File.ReadAllBytes(Path.Combine(TestPaths.Golden, golden + ".txt"));
        var result = CliRunner.Run(["generate", "--engine", "onnx", "--model", f.ExportDirectory, .. runArgs]);
        Assert.True(result.ExitCode == 0, result.Stderr);
        Assert.Equal(expected.Append((byte)'\n').ToArray(), result.StdoutBytes);
    }

    [Theory]
    [InlineData("cuda")]
    [InlineData("dml")]
    public void Gpu_provider_on_a_cpu_build_is_a_readable_error_or_a_cpu_fallback(string provider)
    {
        var failed = CliRunner.Run("generate", "--engine", "onnx", "--model", f.ExportDirectory, "--provider", provider, "-n", "8", "-t", "0");
        Assert.Equal(1, failed.ExitCode);
        Assert.Contains(provider == "cuda" ? "Microsoft.ML.OnnxRuntime.Gpu" : "Microsoft.ML.OnnxRuntime.DirectML", failed.Stderr);
        Assert.DoesNotContain("EntryPointNotFound", failed.Stderr);

        var fellBack = CliRunner.Run("generate", "--engine", "onnx", "--model", f.ExportDirectory, "--provider", provider,
            "--fallback-to-cpu", "-n", "8", "-t", "0");
        Assert.True(fellBack.ExitCode == 0, fellBack.Stderr);
        Assert.Contains("Falling back to the CPU", fellBack.Stderr);
        Assert.StartsWith("Once upon a time", fellBack.Stdout);
    }
}
