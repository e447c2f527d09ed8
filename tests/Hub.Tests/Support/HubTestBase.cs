using System.Text;

namespace MlPipelines.Hub.Tests.Support;

/// <summary>
/// A fake Hub with a small model repository and an empty temporary cache, per test (xunit makes a class instance
/// per test, so tests never share state and can run in parallel).
/// </summary>
public abstract class HubTestBase : IAsyncLifetime
{
    internal const string RepoId = "org/tiny";
    internal FakeHub Hub { get; private set; } = null!;
    internal TempCache Cache { get; } = new();
    internal FakeRepo Repo { get; private set; } = null!;

    internal static FakeFile Config { get; } = new("config.json", Encoding.UTF8.GetBytes("{\"dim\": 64, \"n_layers\": 5}"), lfs: false);
    internal static FakeFile Weights { get; } = new("model.safetensors", FakeFile.Bytes(300_000, 1), lfs: true);
    internal static FakeFile Tokenizer { get; } = new("tokenizer.json", Encoding.UTF8.GetBytes("{\"model\": {\"type\": \"BPE\"}}"), lfs: false);
    internal static FakeFile SubWeights { get; } = new("sub/extra.safetensors", FakeFile.Bytes(10_000, 2), lfs: true);
    internal static FakeFile Readme { get; } = new("README.md", Encoding.UTF8.GetBytes("# tiny"), lfs: false);
    internal static FakeFile Gguf { get; } = new("tiny-Q4_K_M.gguf", FakeFile.Bytes(5_000, 3), lfs: true);
    internal static FakeFile GgufQ8 { get; } = new("tiny-Q8_0.gguf", FakeFile.Bytes(6_000, 4), lfs: true);

    public async Task InitializeAsync()
    {
        Hub = await FakeHub.StartAsync();
        Repo = Hub.Add(new FakeRepo(RepoId, Config, Weights, Tokenizer, SubWeights, Readme, Gguf, GgufQ8));
    }

    public async Task DisposeAsync()
    {
        await Hub.DisposeAsync();
        Cache.Dispose();
    }

    /// <summary>Options for the fake Hub and the temporary cache, with retries fast enough for tests.</summary>
    internal HubOptions Options(string? token = null) => new()
    {
        Endpoint = Hub.Endpoint,
        HubDirectory = Cache.Path,
        Token = token,
        MaxAttempts = 4,
        RetryBaseDelay = TimeSpan.FromMilliseconds(1),
        MaxRetryDelay = TimeSpan.FromMilliseconds(20),
        ReadTimeout = TimeSpan.FromSeconds(10),
    };

    internal async Task<PullResult> PullAsync(string name = RepoId, HubOptions? options = null, IProgress<PullProgress>? progress = null)
    {
        using var client = new HubClient(options ?? Options());
        return await client.PullAsync(name, progress);
    }

    internal string BlobsDirectory => Path.Combine(Cache.RepoDirectory(RepoId), "blobs");

    internal string BlobPath(FakeFile file) => Path.Combine(BlobsDirectory, file.Etag);

    internal string SnapshotPath(FakeFile file) =>
        Path.Combine([Cache.RepoDirectory(RepoId), "snapshots", Repo.Commit, .. file.Name.Split('/')]);

    /// <summary>Every file under the repository's cache folder, relative, '/'-separated.</summary>
    internal string[] CacheEntries() =>
        Directory.Exists(Cache.RepoDirectory(RepoId))
            ? Directory.EnumerateFileSystemEntries(Cache.RepoDirectory(RepoId), "*", SearchOption.AllDirectories)
                .Select(p => Path.GetRelativePath(Cache.RepoDirectory(RepoId), p).Replace('\\', '/')).Order().ToArray()
            : [];
}

/// <summary>Collects progress reports synchronously (Progress&lt;T&gt; would post them to the thread pool).</summary>
internal sealed class ProgressLog : IProgress<PullProgress>
{
    public List<PullProgress> Reports { get; } = [];

    public void Report(PullProgress value)
    {
        lock (Reports) Reports.Add(value);
    }
}
