using System.Security.Cryptography;
using MlPipelines.ManagedEngine.Loading;
using MlPipelines.Tests.Support;

namespace MlPipelines.ManagedEngine.Tests.Loading;

/// <summary>These tests set process-wide environment variables, so they run alone.</summary>
[CollectionDefinition(nameof(ModelLocatorTests), DisableParallelization = true)]
public sealed class ModelLocatorCollection;

/// <summary>Name resolution: local model folders, <c>MLPIPE_MODELS</c>, then the Hugging Face cache, offline.</summary>
[Collection(nameof(ModelLocatorTests))]
public class ModelLocatorTests
{
    private const string Commit = "89abcdef0123456789abcdef0123456789abcdef";

    [Fact]
    public void A_name_is_found_in_MLPIPE_MODELS()
    {
        using var dir = new TempDir();
        Directory.CreateDirectory(Path.Combine(dir.Path, "my-model"));
        using var env = new EnvironmentScope(ModelLocator.ModelsEnvironmentVariable, dir.Path);
        Assert.Equal(Path.Combine(dir.Path, "my-model"), ModelLocator.Resolve("my-model"));
    }

    [Fact]
    public void A_hub_id_resolves_to_its_snapshot_in_the_hugging_face_cache()
    {
        using var hub = new TempDir();
        string repo = HuggingFaceCache.RepoDirectory(hub.Path, "someorg/tiny");
        string snapshot = Path.Combine(repo, "snapshots", Commit);
        Directory.CreateDirectory(snapshot);
        Directory.CreateDirectory(Path.Combine(repo, "refs"));
        File.WriteAllText(Path.Combine(repo, "refs", "main"), Commit + "\n");
        using var env = new EnvironmentScope("HF_HUB_CACHE", hub.Path);

        Assert.Equal(snapshot, ModelLocator.Resolve("someorg/tiny"));
        Assert.Equal(snapshot, ModelLocator.Resolve("someorg/tiny@main"));
        Assert.Equal(snapshot, ModelLocator.Resolve("someorg/tiny@" + Commit));
        var e = Assert.Throws<FileNotFoundException>(() => ModelLocator.Resolve("someorg/tiny@v9"));
        Assert.Contains("'someorg/tiny' at revision 'v9'", e.Message);
        Assert.Contains(hub.Path, e.Message);
    }

    [Fact]
    public void HF_HOME_places_the_cache_under_its_hub_folder()
    {
        using var home = new TempDir();
        using var noHubCache = new EnvironmentScope("HF_HUB_CACHE", null);
        using var env = new EnvironmentScope("HF_HOME", home.Path);
        Assert.Equal(Path.Combine(home.Path, "hub"), HuggingFaceCache.HubDirectory());
    }

    [Fact]
    public void An_unknown_name_says_where_it_looked()
    {
        var e = Assert.Throws<FileNotFoundException>(() => ModelLocator.Resolve("no-such-model-anywhere"));
        Assert.Contains("no-such-model-anywhere", e.Message);
        Assert.Contains(ModelLocator.SearchDirectories()[0], e.Message);
    }
}
