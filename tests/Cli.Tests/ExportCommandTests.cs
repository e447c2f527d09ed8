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
