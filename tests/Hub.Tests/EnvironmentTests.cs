using MlPipelines.Hub.Tests.Support;
using MlPipelines.ManagedEngine.Tests.Support;

namespace MlPipelines.Hub.Tests;

/// <summary>Tests that set process-wide environment variables: never run in parallel with each other.</summary>
[CollectionDefinition(nameof(EnvironmentCollection), DisableParallelization = true)]
public sealed class EnvironmentCollection;

/// <summary><see cref="HubOptions.FromEnvironment"/> and <c>mlpipe pull</c> end to end, configured through HF_* variables.</summary>
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

    [Fact]
    public void Cli_pull_prints_the_snapshot_on_stdout_and_progress_on_stderr()
    {
        Environment.SetEnvironmentVariable("HF_ENDPOINT", Hub.Endpoint);
        Environment.SetEnvironmentVariable("HF_HUB_CACHE", Cache.Path);

        var (code, stdout, stderr) = Cli("pull", RepoId, "--exclude", "sub/*");

        Assert.True(code == 0, stderr);
        string snapshot = Path.Combine(Cache.RepoDirectory(RepoId), "snapshots", Repo.Commit);
        Assert.Equal(snapshot + Environment.NewLine, stdout);
        Assert.Contains("[2/3] model.safetensors", stderr);
        Assert.Contains("use it with --model org/tiny", stderr);
        Assert.DoesNotContain("\r", stderr);   // plain lines when not on a terminal
        Assert.False(File.Exists(Path.Combine(snapshot, "sub", "extra.safetensors")));

        var (again, _, cached) = Cli("pull", RepoId, "--include", "*.json", "*.safetensors");
        Assert.Equal(0, again);
        Assert.Contains("already in the cache", cached);
    }

    [Fact]
    public void Cli_errors_are_one_line_with_exit_code_1()
    {
        Environment.SetEnvironmentVariable("HF_ENDPOINT", Hub.Endpoint);
        Environment.SetEnvironmentVariable("HF_HUB_CACHE", Cache.Path);

        var (code, stdout, stderr) = Cli("pull", "org/missing");
        Assert.Equal(1, code);
        Assert.Equal("", stdout);
        Assert.StartsWith("mlpipe: error: repository not found: org/missing", stderr);
        Assert.Single(stderr.TrimEnd().Split('\n'));

        (code, _, stderr) = Cli("pull", "not-a-repo-id");
        Assert.Equal(1, code);
        Assert.StartsWith("mlpipe: error: expected a Hub model id", stderr);

        Environment.SetEnvironmentVariable("HF_HUB_OFFLINE", "1");
        (code, _, stderr) = Cli("pull", RepoId);
        Assert.Equal(1, code);
        Assert.Contains("offline mode is on", stderr);
        Assert.DoesNotContain(Hub.Requests, r => r.Path.Contains("org/tiny"));
    }

    private static (int Code, string Stdout, string Stderr) Cli(params string[] args)
    {
        var result = CliRunner.Run(args);
        return (result.ExitCode, result.Stdout, result.Stderr);
    }
}
