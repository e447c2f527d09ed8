using System.Text;
using MlPipelines.Hub.Tests.Support;
using MlPipelines.Tests.Support;

namespace MlPipelines.Cli.Tests;

/// <summary>
/// The whole user story through <c>mlpipe</c>: pull a real model (stories260K in Hugging Face layout, with its
/// SentencePiece tokenizer) from a Hub-compatible server whose first transfer of the weights breaks off, then run
/// it by its Hub id with the network off, and get exactly what the same model gives by path — and what llama2.c's
/// run.c printed for it.
/// </summary>
[Collection(nameof(ProcessEnvironmentCollection))]
public sealed class PullThenGenerateTests : IAsyncLifetime, IDisposable
{
    private const string ModelId = "karpathy-test/stories260K-hf";
    private static readonly string[] Variables = ["HF_ENDPOINT", "HF_TOKEN", "HF_HOME", "HF_HUB_CACHE", "HF_HUB_OFFLINE"];
    private readonly Dictionary<string, string?> _saved = Variables.ToDictionary(v => v, Environment.GetEnvironmentVariable);
    private readonly TempCache _cache = new();
    private FakeHub _hub = null!;
    private FakeRepo _repo = null!;

    private static string HfDir => Path.Combine(TestPaths.Models, "stories260K-hf");
    private static string Tok512Model => Path.Combine(TestPaths.Models, "stories260K", "tok512.model");

    public async Task InitializeAsync()
    {
        _hub = await FakeHub.StartAsync();
        _repo = _hub.Add(new FakeRepo(ModelId,
            new FakeFile("config.json", File.ReadAllBytes(Path.Combine(HfDir, "config.json")), lfs: false),
            new FakeFile("model.safetensors", File.ReadAllBytes(Path.Combine(HfDir, "model.safetensors")), lfs: true),
            new FakeFile("tokenizer.model", File.ReadAllBytes(Tok512Model), lfs: false),
            new FakeFile("README.md", Encoding.UTF8.GetBytes("# stories260K"), lfs: false)));
        foreach (string name in Variables) Environment.SetEnvironmentVariable(name, null);
        Environment.SetEnvironmentVariable("HF_HOME", Path.Combine(_cache.Path, "home"));
        Environment.SetEnvironmentVariable("HF_HUB_CACHE", _cache.Path);
        Environment.SetEnvironmentVariable("HF_ENDPOINT", _hub.Endpoint);
    }

    public async Task DisposeAsync() => await _hub.DisposeAsync();

    public void Dispose()
    {
        foreach (var (name, value) in _saved) Environment.SetEnvironmentVariable(name, value);
        _cache.Dispose();
    }

    [Fact]
    public void A_pulled_model_runs_offline_by_its_hub_id_exactly_as_by_path()
    {
        _hub.DropAfter["model.safetensors"] = 400_000;   // the first transfer of the weights breaks off

        var pull = Cli("pull", ModelId);

        Assert.True(pull.ExitCode == 0, pull.Stderr);
        string snapshot = Path.Combine(_cache.RepoDirectory(ModelId), "snapshots", _repo.Commit);
        Assert.Equal(snapshot, pull.Stdout.Trim());
        var weightGets = _hub.Gets("model.safetensors").Where(r => r.Server == "cdn").ToList();   // the Hub redirects each
        Assert.Equal(2, weightGets.Count);
        Assert.Equal("bytes=400000-", weightGets[1].Range);                                    // resumed, not restarted
        Assert.Equal(File.ReadAllBytes(Path.Combine(HfDir, "model.safetensors")), File.ReadAllBytes(Path.Combine(snapshot, "model.safetensors")));
        Assert.False(File.Exists(Path.Combine(snapshot, "README.md")));                        // not a model file
        Assert.Equal(_repo.Commit, File.ReadAllText(Path.Combine(_cache.RepoDirectory(ModelId), "refs", "main")).Trim());

        Environment.SetEnvironmentVariable("HF_HUB_OFFLINE", "1");
        Environment.SetEnvironmentVariable("HF_ENDPOINT", "http://127.0.0.1:9");                // nothing listens there
        int requestsBefore = _hub.Requests.Count;

        var byId = Cli("generate", "--model", ModelId, "-t", "0", "-n", "256");
        var byRevision = Cli("generate", "--model", ModelId + "@" + _repo.Commit, "-t", "0", "-n", "256");
        var byPath = Cli("generate", "--model", HfDir, "--tokenizer", Tok512Model, "-t", "0", "-n", "256");
        var sampledById = Cli("generate", "--model", ModelId, "-t", "1", "-p", "0.9", "-s", "133742", "-n", "256");

        Assert.True(byId.ExitCode == 0, byId.Stderr);
        Assert.Equal(byPath.Stdout, byId.Stdout);
        Assert.Equal(byPath.Stdout, byRevision.Stdout);
        // run.c's own output, plus the newline mlpipe (like run.c) prints at the end
        Assert.Equal([.. File.ReadAllBytes(Path.Combine(TestPaths.Golden, "greedy_bos_256.txt")), (byte)'\n'], byId.StdoutBytes);
        Assert.Equal([.. File.ReadAllBytes(Path.Combine(TestPaths.Golden, "sample_bos_t1_p09_s133742.txt")), (byte)'\n'], sampledById.StdoutBytes);
        Assert.Equal(requestsBefore, _hub.Requests.Count);                                      // offline: no request at all
    }

    [Fact]
    public void A_corrupted_download_names_the_file_and_leaves_nothing_under_its_final_name()
    {
        _hub.Corrupt["model.safetensors"] = true;

        var pull = Cli("pull", ModelId);

        Assert.Equal(1, pull.ExitCode);
        string error = pull.Stderr.TrimEnd().Split('\n')[^1];                                  // after the progress lines
        Assert.StartsWith("mlpipe: error: ", error);
        Assert.Contains("model.safetensors", error);
        string repoDir = _cache.RepoDirectory(ModelId);
        string blob = Path.Combine(repoDir, "blobs", _repo.Files.Single(f => f.Name == "model.safetensors").Sha256);
        Assert.False(File.Exists(blob));
        Assert.False(File.Exists(blob + ".incomplete"));
        Assert.False(File.Exists(Path.Combine(repoDir, "snapshots", _repo.Commit, "model.safetensors")));
        Assert.False(File.Exists(Path.Combine(repoDir, "refs", "main")));                      // not usable by name

        var run = Cli("generate", "--model", ModelId, "-t", "0", "-n", "8");
        Assert.Equal(1, run.ExitCode);
        Assert.Contains("not found", run.Stderr);
    }

    private static CliRunner.Result Cli(params string[] args) => CliRunner.Run(args);
}
