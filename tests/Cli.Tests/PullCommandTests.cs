using MlPipelines.Hub.Tests.Support;
using MlPipelines.Tests.Support;

namespace MlPipelines.Cli.Tests;

/// <summary><c>mlpipe pull</c> end to end against the fake Hub, configured through HF_* variables as a user would.</summary>
[Collection(nameof(ProcessEnvironmentCollection))]
public sealed class PullCommandTests : HubTestBase, IDisposable
{
    private static readonly string[] Variables = ["HF_ENDPOINT", "HF_TOKEN", "HF_TOKEN_PATH", "HF_HOME", "HF_HUB_CACHE", "HF_HUB_OFFLINE"];
    private readonly Dictionary<string, string?> _saved = Variables.ToDictionary(v => v, Environment.GetEnvironmentVariable);

    public PullCommandTests()
    {
        foreach (string name in Variables) Environment.SetEnvironmentVariable(name, null);
        Environment.SetEnvironmentVariable("HF_HOME", Path.Combine(Cache.Path, "home"));   // never the user's real cache or token
    }

    public void Dispose()
    {
        foreach (var (name, value) in _saved) Environment.SetEnvironmentVariable(name, value);
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
