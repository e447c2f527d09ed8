using MlPipelines.Tests.Support;

namespace MlPipelines.Cli.Tests;

public class DemoTests
{
    [Fact]
    public void Demo_exports_once_runs_both_engines_and_reports_agreement()
    {
        using var cache = new TempDir();
        var first = CliRunner.Run("demo", "--cache", cache.Path);
        Assert.True(first.ExitCode == 0, first.Stderr + first.Stdout);
        Assert.Contains("ONNX export written to", first.Stdout);
        Assert.Contains("engines agree", first.Stdout);
        Assert.Contains("23/23 rows", first.Stdout);
        Assert.DoesNotContain("\u001b[", first.Stdout);   // no colour codes when not on a terminal

        CliRunner.Result second;
        using (var log = ManagedEngine.Loading.ModelLocator.RecordResolutions())
        {
            second = CliRunner.Run("demo", "--cache", cache.Path);
            Assert.Equal([ManagedEngine.Loading.ModelLocator.DefaultModelName], log.Names);   // the model is resolved once
        }
        Assert.True(second.ExitCode == 0, second.Stderr);
        Assert.Contains("ONNX export reused from", second.Stdout);
    }
}
