using System.Security.Cryptography;
using MlPipelines.ManagedEngine.Loading;
using MlPipelines.Tests.Support;

namespace MlPipelines.Cli.Tests;

/// <summary>The models shipped beside <c>mlpipe</c>: found by name from any working directory, before <c>MLPIPE_MODELS</c>.</summary>
[Collection(nameof(ProcessEnvironmentCollection))]
public class ShippedModelsTests
{
    [Fact]
    public void The_default_model_is_the_committed_stories260K_shipped_beside_the_program()
    {
        string resolved = ModelLocator.Resolve(null);
        string Sha256(string path) => Convert.ToHexStringLower(SHA256.HashData(File.ReadAllBytes(path)));
        Assert.Equal(Sha256(Path.Combine(TestPaths.Models, "stories260K", "stories260K.bin")), Sha256(Path.Combine(resolved, "stories260K.bin")));
        Assert.Equal(ModelFormat.Llama2c, ModelSource.Detect(resolved).Format);
    }

    [Fact]
    public void Local_folders_come_before_MLPIPE_MODELS()
    {
        using var dir = new TempDir();
        Directory.CreateDirectory(Path.Combine(dir.Path, ModelLocator.DefaultModelName));
        using var env = new EnvironmentScope(ModelLocator.ModelsEnvironmentVariable, dir.Path);
        Assert.NotEqual(Path.Combine(dir.Path, ModelLocator.DefaultModelName), ModelLocator.Resolve(ModelLocator.DefaultModelName));
    }
}
