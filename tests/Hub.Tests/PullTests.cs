using MlPipelines.Hub.Tests.Support;
using MlPipelines.ManagedEngine.Loading;

namespace MlPipelines.Hub.Tests;

/// <summary>Successful pulls: the cache layout of huggingface_hub, file selection, redirects and re-pulls.</summary>
public sealed class PullTests : HubTestBase
{
    [Fact]
    public async Task Pull_lays_out_blobs_snapshot_links_and_ref_like_huggingface_hub()
    {
        PullResult result = await PullAsync();

        Assert.Equal(Repo.Commit, result.Commit);
        Assert.False(result.FromCache);
        Assert.Equal(Path.Combine(Cache.RepoDirectory(RepoId), "snapshots", Repo.Commit), result.SnapshotDirectory);
        Assert.Equal(["config.json", "model.safetensors", "tokenizer.json", "sub/extra.safetensors"], result.Files.Select(f => f.Name));
        Assert.Equal(Repo.Commit, File.ReadAllText(Path.Combine(Cache.RepoDirectory(RepoId), "refs", "main")));
        Assert.Equal(result.SnapshotDirectory, HuggingFaceCache.TryResolveSnapshot(RepoId, Cache.Path));

        foreach (FakeFile file in new[] { Config, Weights, Tokenizer, SubWeights })
        {
            Assert.Equal(file.Content, File.ReadAllBytes(BlobPath(file)));
            var link = new FileInfo(SnapshotPath(file));
            string depth = string.Concat(Enumerable.Repeat("../", file.Name.Count(c => c == '/') + 2));
            Assert.Equal(Path.Combine(depth + "blobs", file.Etag).Replace('\\', '/'), link.LinkTarget?.Replace('\\', '/'));
            Assert.False(Path.IsPathRooted(link.LinkTarget));
            Assert.Equal(file.Content, File.ReadAllBytes(link.FullName));   // resolves through the link
        }
        Assert.DoesNotContain(CacheEntries(), e => e.EndsWith(".incomplete", StringComparison.Ordinal) || e.Contains(".tmp-"));
        Assert.Equal(Weights.Content.Length + SubWeights.Content.Length + Config.Content.Length + Tokenizer.Content.Length, result.DownloadedBytes);
    }

    [Fact]
    public async Task Large_files_are_named_by_sha256_and_fetched_from_the_cdn_without_the_token()
    {
        await PullAsync(options: Options(token: "hf_user"));

        Assert.True(File.Exists(Path.Combine(BlobsDirectory, Weights.Sha256)));
        Assert.True(File.Exists(Path.Combine(BlobsDirectory, Config.GitSha1)));
        var cdn = Hub.Requests.Where(r => r.Server == "cdn").ToList();
        Assert.Equal(2, cdn.Count);   // the two safetensors files
        Assert.All(cdn, r => Assert.Null(r.Authorization));
        Assert.All(Hub.Requests.Where(r => r.Server == "hub"), r => Assert.Equal("Bearer hf_user", r.Authorization));
        // Metadata first (HEAD, not following the redirect), then the body; files resolved at the commit.
        Assert.Contains(Hub.Requests, r => r is { Server: "hub", Method: "HEAD" } && r.Path == $"/{RepoId}/resolve/{Repo.Commit}/model.safetensors");
        Assert.Contains(Hub.Requests, r => r is { Server: "hub", Method: "GET" } && r.Path == $"/{RepoId}/resolve/{Repo.Commit}/sub/extra.safetensors");
    }

    [Fact]
    public async Task Include_replaces_the_default_files_and_exclude_removes_afterwards()
    {
        PullResult gguf = await PullAsync(options: Options() with { Include = ["*.gguf"] });
        Assert.Equal(["tiny-Q4_K_M.gguf", "tiny-Q8_0.gguf"], gguf.Files.Select(f => f.Name));

        PullResult one = await PullAsync(options: Options() with { Include = ["*Q4_K_M.gguf", "*.json"], Exclude = ["tokenizer*"] });
        Assert.Equal(["config.json", "tiny-Q4_K_M.gguf"], one.Files.Select(f => f.Name));

        PullResult folder = await PullAsync(options: Options() with { Include = ["sub/"] });
        Assert.Equal(["sub/extra.safetensors"], folder.Files.Select(f => f.Name));

        PullResult noSub = await PullAsync(options: Options() with { Exclude = ["sub/*", "tokenizer.json"] });
        Assert.Equal(["config.json", "model.safetensors"], noSub.Files.Select(f => f.Name));
    }

    [Fact]
    public async Task Nothing_matching_lists_the_files_and_suggests_gguf()
    {
        var e = await Assert.ThrowsAsync<HubException>(() => PullAsync(options: Options() with { Include = ["*.bin"] }));
        Assert.Equal(HubErrorKind.NoMatchingFiles, e.Kind);
        Assert.Contains("\"*.bin\"", e.Message);
        Assert.Contains("README.md", e.Message);
        Assert.Contains("\"*.gguf\"", e.Message);
        Assert.Empty(CacheEntries());
    }

    [Fact]
    public async Task A_second_pull_downloads_nothing_and_relinks_missing_names()
    {
        await PullAsync();
        File.Delete(SnapshotPath(Weights));
        int getsBefore = Hub.Requests.Count(r => r.Method == "GET");

        var log = new ProgressLog();
        PullResult again = await PullAsync(progress: log);

        Assert.Equal(0, again.DownloadedBytes);
        Assert.Equal(1, Hub.Requests.Count(r => r.Method == "GET") - getsBefore);   // only the API listing
        Assert.Equal(Weights.Content, File.ReadAllBytes(SnapshotPath(Weights)));
        Assert.Equal(4, log.Reports.Count(r => r.Kind == PullProgressKind.Cached));
    }

    [Fact]
    public async Task A_commit_revision_writes_no_ref_and_a_branch_does()
    {
        Repo.Branches.Add("release/v1");
        PullResult byCommit = await PullAsync($"{RepoId}@{Repo.Commit}");
        Assert.Equal(Repo.Commit, byCommit.Commit);
        Assert.False(Directory.Exists(Path.Combine(Cache.RepoDirectory(RepoId), "refs")));

        await PullAsync($"{RepoId}@release/v1");
        Assert.Equal(Repo.Commit, File.ReadAllText(Path.Combine(Cache.RepoDirectory(RepoId), "refs", "release", "v1")));
        Assert.Contains(Hub.Requests, r => r.Path.StartsWith($"/api/models/{RepoId}/revision/release%2Fv1", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Progress_reports_resolve_start_and_completion_per_file()
    {
        var log = new ProgressLog();
        await PullAsync(progress: log);

        PullProgress resolved = log.Reports[0];
        Assert.Equal(PullProgressKind.Resolved, resolved.Kind);
        Assert.Equal(Repo.Commit, resolved.Message);
        Assert.Equal(4, resolved.FileCount);
        Assert.Equal(Config.Content.Length + Weights.Content.Length + Tokenizer.Content.Length + SubWeights.Content.Length, resolved.TotalBytes);
        var completed = log.Reports.Where(r => r.Kind == PullProgressKind.Completed).ToList();
        Assert.Equal([1, 2, 3, 4], completed.Select(r => r.FileIndex));
        Assert.All(completed, r => Assert.Equal(r.TotalBytes, r.BytesDone));
        Assert.Equal(4, log.Reports.Count(r => r.Kind == PullProgressKind.Started));
    }

    [Fact]
    public async Task A_renamed_repository_is_followed_through_the_relative_redirect()
    {
        Hub.Renamed["old/tiny"] = RepoId;
        PullResult result = await PullAsync("old/tiny");
        Assert.Equal(Repo.Commit, result.Commit);
        Assert.Equal(Weights.Content, File.ReadAllBytes(Path.Combine(result.SnapshotDirectory, "model.safetensors")));
        Assert.StartsWith(Cache.RepoDirectory("old/tiny"), result.SnapshotDirectory);
    }

    [Theory]
    [InlineData("tiny")]
    [InlineData("org/tiny/extra")]
    [InlineData("org/../tiny")]
    [InlineData("org/tiny@")]
    [InlineData("org/tiny@../../etc")]
    public async Task Malformed_ids_are_argument_errors(string name)
    {
        var e = await Assert.ThrowsAsync<ArgumentException>(() => PullAsync(name));
        Assert.Contains("org/name", e.Message);
        Assert.Empty(Hub.Requests);
    }
}
