using MlPipelines.Tests.Support;

namespace MlPipelines.Cli.Tests;

/// <summary><c>mlpipe serve</c>'s settings are refused before a model is opened, naming the flag (the server itself is tested in Server.Tests).</summary>
public class ServeCliTests
{
    [Theory]
    [InlineData("--port", "70000", "--port")]
    [InlineData("--parallel", "0", "--parallel")]
    [InlineData("--queue", "-1", "--queue")]
    [InlineData("--api-key", "", "--api-key")]
    public void A_bad_setting_is_an_error_naming_its_flag(string flag, string value, string named)
    {
        var result = CliRunner.Run("serve", "--model", TestPaths.Stories260K, flag, value);

        Assert.Equal(1, result.ExitCode);
        Assert.Contains($"mlpipe: error: {named}", result.Stderr);
    }
}
