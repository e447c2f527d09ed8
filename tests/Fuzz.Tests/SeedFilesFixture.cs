namespace MlPipelines.Fuzz.Tests;

/// <summary>The seed files, built once for the test class (the generated models and the saved pipeline take a moment).</summary>
public sealed class SeedFilesFixture : IDisposable
{
    public SeedFiles Seeds { get; } = new(MlPipelines.Tests.Support.TestPaths.RepoRoot);

    public void Dispose() => Seeds.Dispose();
}
