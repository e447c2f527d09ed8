using MlPipelines.Hub.Tests.Support;

namespace MlPipelines.Hub.Tests;

/// <summary>Tests that set process-wide environment variables: never run in parallel with each other.</summary>
[CollectionDefinition(nameof(EnvironmentCollection), DisableParallelization = true)]
public sealed class EnvironmentCollection;

/// <summary><see cref="HubOptions.FromEnvironment"/>: configured through HF_* variables.</summary>
[Collection(nameof(EnvironmentCollection))]
public sealed class EnvironmentTests : HubTestBase, IDisposable
{
    private static readonly string[] Variables = ["HF_ENDPOINT", "HF_TOKEN", "HF_TOKEN_PATH", "HF_HOME", "HF_HUB_CACHE", "HF_HUB_OFFLINE"];
    private readonly Dictionary<string, string?> _saved = Variables.ToDictionary(v => v, Environment.GetEnvironmentVariable);

    public EnvironmentTests()
    {
        foreach (string name in Variables) Environment.SetEnvironmentVariable(name, null);
        // Never the user's real cache or token.
        Environment.SetEnvironmentVariable("HF_HOME", Path.Combine(Cache.Path, "home"));
    }

    public void Dispose()
    {
        foreach (var (name, value) in _saved) Environment.SetEnvironmentVariable(name, value);
    }

    [Fact]
    public void Defaults_are_the_public_hub_no_token_online_and_the_home_cache()
    {
        HubOptions options = HubOptions.FromEnvironment();
        Assert.Equal("https://huggingface.co", options.Endpoint);
        Assert.Null(options.Token);
        Assert.False(options.Offline);
        Assert.Equal(Path.Combine(Cache.Path, "home", "hub"), options.HubDirectory);
    }

    [Fact]
    public void Variables_set_endpoint_token_offline_and_cache()
    {
        Environment.SetEnvironmentVariable("HF_ENDPOINT", "https://mirror.example/");
        Environment.SetEnvironmentVariable("HF_TOKEN", " hf_env \n");
        Environment.SetEnvironmentVariable("HF_HUB_OFFLINE", "yes");
        Environment.SetEnvironmentVariable("HF_HUB_CACHE", Path.Combine(Cache.Path, "elsewhere"));
        HubOptions options = HubOptions.FromEnvironment();
        Assert.Equal("https://mirror.example", options.Endpoint);
        Assert.Equal("hf_env", options.Token);
        Assert.True(options.Offline);
        Assert.Equal(Path.Combine(Cache.Path, "elsewhere"), options.HubDirectory);
    }

    [Fact]
    public void The_token_file_is_read_when_HF_TOKEN_is_not_set()
    {
        Directory.CreateDirectory(Path.Combine(Cache.Path, "home"));
        File.WriteAllText(Path.Combine(Cache.Path, "home", "token"), "hf_from_file\n");
        Assert.Equal("hf_from_file", HubOptions.FromEnvironment().Token);
        Environment.SetEnvironmentVariable("HF_TOKEN", "hf_env");
        Assert.Equal("hf_env", HubOptions.FromEnvironment().Token);
    }
}
