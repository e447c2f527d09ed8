using MlPipelines.Hub.Tests.Support;
using Xunit.Abstractions;

namespace MlPipelines.Cli.Tests.Kill;

/// <summary>
/// <c>mlpipe pull</c> from the fake Hub on 127.0.0.1 over a slow connection, killed again and again at random moments:
/// every blob and snapshot file in the cache is complete and correct or absent (a download in progress stays under
/// <c>.incomplete</c>, a prefix of the file), and a rerun completes the snapshot.
/// </summary>
public sealed class PullKillTests(ITestOutputHelper log) : HubTestBase
{
    [Fact]
    public void Repeated_kills_leave_only_complete_files_and_a_rerun_completes_the_snapshot()
    {
        Hub.ChunkDelay = TimeSpan.FromMilliseconds(50);   // the 300 KB weights take about a second
        var harness = new KillHarness(log, seed: 61);
        foreach (string name in new[] { "HF_TOKEN", "HF_TOKEN_PATH", "HF_HUB_OFFLINE", "HF_HUB_DISABLE_SYMLINKS" })
            harness.Environment[name] = null;
        harness.Environment["HF_ENDPOINT"] = Hub.Endpoint;
        harness.Environment["HF_HOME"] = Path.Combine(Cache.Path, "home");   // never the user's cache or token
        harness.Environment["MLPIPE_CACHE"] = Path.Combine(Cache.Path, "mlpipe");

        // The reference run goes to its own cache, so the killed runs start from an empty one.
        harness.Environment["HF_HUB_CACHE"] = Path.Combine(Cache.Path, "reference");
        KillHarness.Result first = harness.Run(["pull", RepoId], watch: Path.Combine(Cache.Path, "reference"));
        Assert.True(first.ExitCode == 0, first.Stderr);
        string snapshot = Path.Combine("snapshots", Repo.Commit);
        OutputSnapshot reference = OutputSnapshot.Take(Path.Combine(HuggingFaceCacheOf("reference"), snapshot));
        Assert.Contains("model.safetensors", reference.Files!.Keys);   // the slow download is among those pulled
        harness.Environment["HF_HUB_CACHE"] = Cache.Path;

        // Half the kills spread over the whole run, half over the downloads: from the first change in the cache.
        TimeSpan[] whole = harness.Delays(first.Elapsed, 3);
        TimeSpan[] downloading = harness.Delays(first.Elapsed - first.FirstChange!.Value, 3, "from the first change in the cache");
        int clean = 0, inProgress = 0;
        foreach (var (delay, watch) in whole.Select(d => (d, (string?)null)).Concat(downloading.Select(d => (d, (string?)Cache.Path))))
        {
            harness.RunAndKill(delay, ["pull", RepoId], watch);   // resumes what the kills before left
            if (CheckCache(reference)) inProgress++;
            else clean++;
        }
        log.WriteLine($"kills: {inProgress} left a partial download, {clean} none; cache: {string.Join(", ", CacheEntries())}");

        KillHarness.Result rerun = harness.Run("pull", RepoId);
        Assert.True(rerun.ExitCode == 0, rerun.Stderr);
        Assert.False(CheckCache(reference));
        OutputSnapshot pulled = OutputSnapshot.Take(Path.Combine(Cache.RepoDirectory(RepoId), snapshot));
        Assert.True(pulled.SameAs(reference), $"after the kills and a rerun the snapshot is {pulled}, not {reference}");
        Assert.Equal(Repo.Commit, File.ReadAllText(Path.Combine(Cache.RepoDirectory(RepoId), "refs", "main")));
    }

    private string HuggingFaceCacheOf(string folder) =>
        MlPipelines.ManagedEngine.Loading.HuggingFaceCache.RepoDirectory(Path.Combine(Cache.Path, folder), RepoId);

    /// <summary>
    /// Checks every file the cache holds for the repository against the fake Hub's, and that the branch ref exists only
    /// beside a complete snapshot (<paramref name="reference"/>'s files); returns whether a download was left in progress.
    /// </summary>
    private bool CheckCache(OutputSnapshot reference)
    {
        string repo = Cache.RepoDirectory(RepoId);
        if (!Directory.Exists(repo)) return false;
        bool partial = false;
        if (Directory.Exists(BlobsDirectory))
        {
            foreach (string blob in Directory.GetFiles(BlobsDirectory))
            {
                string name = Path.GetFileName(blob);
                bool incomplete = name.EndsWith(".incomplete", StringComparison.Ordinal);
                string etag = incomplete ? name[..^".incomplete".Length] : name;
                FakeFile file = Assert.Single(Repo.Files, f => f.Etag == etag);
                byte[] content = File.ReadAllBytes(blob);
                if (incomplete)
                {
                    // Resumed from where it stops, so it must be the start of the file.
                    Assert.True(content.AsSpan().SequenceEqual(file.Content.AsSpan(0, Math.Min(content.Length, file.Content.Length))),
                        $"{name} is not a prefix of {file.Name}");
                    partial = true;
                }
                else
                    Assert.True(content.AsSpan().SequenceEqual(file.Content), $"blob {name} ({file.Name}) is torn or wrong");
            }
        }
        string snapshot = Path.Combine(repo, "snapshots", Repo.Commit);
        if (Directory.Exists(snapshot))
        {
            foreach (string path in Directory.GetFiles(snapshot, "*", SearchOption.AllDirectories))
            {
                string name = Path.GetRelativePath(snapshot, path).Replace('\\', '/');
                FakeFile file = Assert.Single(Repo.Files, f => f.Name == name);
                // A link to a blob that is missing or torn would fail here.
                Assert.True(File.ReadAllBytes(path).AsSpan().SequenceEqual(file.Content), $"snapshot file {name} is torn or wrong");
            }
        }
        // The ref is written last: offline, "org/tiny" resolves to a complete snapshot or to none.
        string main = Path.Combine(repo, "refs", "main");
        if (File.Exists(main))
        {
            Assert.Equal(Repo.Commit, File.ReadAllText(main));
            Assert.True(OutputSnapshot.Take(snapshot).SameAs(reference), "refs/main names a snapshot that is not complete");
        }
        return partial;
    }
}
