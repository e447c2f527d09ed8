using MlPipelines.Hub.Tests.Support;

namespace MlPipelines.Hub.Tests;

/// <summary>Refusals, missing things, retries, dropped connections, resumes and corrupted content.</summary>
public sealed class FailureTests : HubTestBase
{
    [Fact]
    public async Task A_corrupted_large_file_fails_naming_both_hashes_and_leaves_nothing_under_its_names()
    {
        Hub.Corrupt[Weights.Name] = true;
        var e = await Assert.ThrowsAsync<HubException>(() => PullAsync());

        Assert.Equal(HubErrorKind.IntegrityMismatch, e.Kind);
        Assert.Contains("model.safetensors", e.Message);
        Assert.Contains(Weights.Sha256, e.Message);
        Assert.Matches("got [0-9a-f]{64}", e.Message);
        Assert.False(File.Exists(BlobPath(Weights)));
        Assert.False(File.Exists(BlobPath(Weights) + ".incomplete"));
        Assert.False(new FileInfo(SnapshotPath(Weights)).Exists);
        Assert.Null(new FileInfo(SnapshotPath(Weights)).LinkTarget);
        Assert.False(Directory.Exists(Path.Combine(Cache.RepoDirectory(RepoId), "refs")));
    }

    [Fact]
    public async Task A_corrupted_small_file_fails_its_git_blob_sha1()
    {
        Hub.Corrupt[Config.Name] = true;
        var e = await Assert.ThrowsAsync<HubException>(() => PullAsync());

        Assert.Equal(HubErrorKind.IntegrityMismatch, e.Kind);
        Assert.Contains("config.json", e.Message);
        Assert.Contains("git blob sha1 " + Config.GitSha1, e.Message);
        Assert.Empty(Directory.EnumerateFileSystemEntries(BlobsDirectory));
        Assert.False(Directory.Exists(Path.GetDirectoryName(SnapshotPath(Config))) && File.Exists(SnapshotPath(Config)));
    }

    [Fact]
    public async Task A_gated_repository_without_a_token_is_access_denied()
    {
        Hub.Add(new FakeRepo("org/gated", Config) { Gated = true });
        var e = await Assert.ThrowsAsync<HubException>(() => PullAsync("org/gated"));
        Assert.Equal(HubErrorKind.AccessDenied, e.Kind);
        Assert.Equal(401, e.StatusCode);
        Assert.StartsWith("access denied to org/gated: it may be gated or private; set HF_TOKEN to a token with access", e.Message);
        Assert.Contains("no token was sent", e.Message);
        Assert.Single(Hub.Requests);   // not retried
    }

    [Fact]
    public async Task A_gated_repository_with_the_wrong_token_says_a_token_was_sent_and_the_right_one_gets_in()
    {
        Hub.Add(new FakeRepo("org/gated", Config) { Gated = true });
        var e = await Assert.ThrowsAsync<HubException>(() => PullAsync("org/gated", Options(token: "hf_wrong")));
        Assert.Equal(403, e.StatusCode);
        Assert.Contains("a token was sent", e.Message);

        PullResult ok = await PullAsync("org/gated", Options(token: Hub.Token));
        Assert.Equal(["config.json"], ok.Files.Select(f => f.Name));
    }

    [Fact]
    public async Task Missing_repository_revision_and_file_are_named()
    {
        var repo = await Assert.ThrowsAsync<HubException>(() => PullAsync("org/missing"));
        Assert.Equal(HubErrorKind.RepositoryNotFound, repo.Kind);
        Assert.Contains("repository not found: org/missing", repo.Message);

        var revision = await Assert.ThrowsAsync<HubException>(() => PullAsync(RepoId + "@v9"));
        Assert.Equal(HubErrorKind.RevisionNotFound, revision.Kind);
        Assert.Contains("revision not found: v9 in org/tiny", revision.Message);

        // Listed by the API but gone when fetched.
        Hub.Add(new FakeRepo("org/ghost", Config, Tokenizer) { Unresolvable = { Tokenizer.Name } });
        var file = await Assert.ThrowsAsync<HubException>(() => PullAsync("org/ghost"));
        Assert.Equal(HubErrorKind.EntryNotFound, file.Kind);
        Assert.Contains("file not found: tokenizer.json in org/ghost@main", file.Message);
    }

    [Fact]
    public async Task Rate_limiting_is_retried_until_it_lifts()
    {
        Hub.RateLimitTimes = 3;
        var log = new ProgressLog();
        PullResult result = await PullAsync(progress: log);
        Assert.Equal(4, result.Files.Count);
        Assert.Equal(3, log.Reports.Count(r => r.Kind == PullProgressKind.Retrying && r.Message!.Contains("429")));
    }

    [Fact]
    public async Task Persistent_server_errors_fail_after_the_configured_attempts()
    {
        Hub.AlwaysFail = true;
        var e = await Assert.ThrowsAsync<HubException>(() => PullAsync());
        Assert.Equal(HubErrorKind.HttpStatus, e.Kind);
        Assert.Equal(500, e.StatusCode);
        Assert.Contains("HTTP 500", e.Message);
        Assert.Contains("after 4 attempts", e.Message);
        Assert.Equal(4, Hub.Requests.Count);
    }

    [Fact]
    public async Task A_dropped_connection_is_resumed_with_a_range_request()
    {
        Hub.DropAfter[Weights.Name] = 100_000;
        PullResult result = await PullAsync();

        Assert.Equal(Weights.Content, File.ReadAllBytes(Path.Combine(result.SnapshotDirectory, "model.safetensors")));
        var gets = Hub.Requests.Where(r => r is { Server: "cdn" } && r.Path.Contains(Weights.Sha256)).ToList();
        Assert.Equal(2, gets.Count);
        Assert.Null(gets[0].Range);
        Assert.Matches(@"^bytes=\d+-$", gets[1].Range);
        Assert.True(long.Parse(gets[1].Range!["bytes=".Length..^1]) >= 100_000 - 65_536);   // resumed, not restarted
        Assert.Equal(Weights.Content.Length, result.Files.Single(f => f.Name == Weights.Name).DownloadedBytes);
    }

    [Fact]
    public async Task A_dropped_small_file_is_resumed_from_the_hub_itself()
    {
        var big = new FakeFile("tokenizer.json", FakeFile.Bytes(200_000, 9), lfs: false);
        Hub.Add(new FakeRepo("org/text", big));
        Hub.DropAfter[big.Name] = 50_000;
        PullResult result = await PullAsync("org/text");
        Assert.Equal(big.Content, File.ReadAllBytes(result.Files.Single().Path));
        Assert.NotNull(Hub.Gets("tokenizer.json").Last().Range);
    }

    [Fact]
    public async Task An_existing_partial_download_is_resumed()
    {
        Directory.CreateDirectory(BlobsDirectory);
        File.WriteAllBytes(BlobPath(Weights) + ".incomplete", Weights.Content[..123_456]);
        var log = new ProgressLog();

        PullResult result = await PullAsync(progress: log);

        var get = Assert.Single(Hub.Requests, r => r.Server == "cdn" && r.Path.Contains(Weights.Sha256));
        Assert.Equal("bytes=123456-", get.Range);
        Assert.Equal(Weights.Content, File.ReadAllBytes(BlobPath(Weights)));
        Assert.False(File.Exists(BlobPath(Weights) + ".incomplete"));
        Assert.Equal(Weights.Content.Length - 123_456, result.Files.Single(f => f.Name == Weights.Name).DownloadedBytes);
        Assert.Equal(123_456, log.Reports.First(r => r.Kind == PullProgressKind.Started && r.FileName == Weights.Name).BytesDone);
    }

    [Fact]
    public async Task A_server_ignoring_range_starts_the_partial_over()
    {
        Directory.CreateDirectory(BlobsDirectory);
        File.WriteAllBytes(BlobPath(Weights) + ".incomplete", new byte[1000]);   // not even a correct prefix
        Hub.IgnoreRange = true;
        await PullAsync();
        Assert.Equal(Weights.Content, File.ReadAllBytes(BlobPath(Weights)));
    }

    [Fact]
    public async Task A_complete_partial_left_unverified_is_verified_without_a_request()
    {
        Directory.CreateDirectory(BlobsDirectory);
        File.WriteAllBytes(BlobPath(Weights) + ".incomplete", Weights.Content);
        await PullAsync();
        Assert.DoesNotContain(Hub.Requests, r => r.Server == "cdn" && r.Path.Contains(Weights.Sha256));
        Assert.Equal(Weights.Content, File.ReadAllBytes(SnapshotPath(Weights)));
    }

    [Fact]
    public async Task A_connection_that_keeps_dropping_gives_up_and_keeps_the_partial_for_later()
    {
        var file = new FakeFile("model.safetensors", FakeFile.Bytes(100_000, 5), lfs: true);
        Hub.Add(new FakeRepo("org/drops", file));
        var options = Options() with { MaxAttempts = 2 };
        Hub.DropAfter[file.Name] = 10_000;
        var log = new DroppingAgain(Hub, file.Name);
        var e = await Assert.ThrowsAsync<HubException>(() => PullAsync("org/drops", options, log));
        Assert.Equal(HubErrorKind.Network, e.Kind);
        Assert.Contains("after 2 attempts", e.Message);
        string partial = Path.Combine(Cache.RepoDirectory("org/drops"), "blobs", file.Sha256 + ".incomplete");
        Assert.True(new FileInfo(partial).Length >= 10_000);

        PullResult result = await PullAsync("org/drops");   // a later run finishes it
        Assert.Equal(file.Content, File.ReadAllBytes(result.Files.Single().Path));
    }

    /// <summary>Arms another drop whenever a retry is reported, so every attempt is cut off.</summary>
    private sealed class DroppingAgain(FakeHub hub, string fileName) : IProgress<PullProgress>
    {
        public void Report(PullProgress value)
        {
            if (value.Kind == PullProgressKind.Retrying) hub.DropAfter[fileName] = 10_000;
        }
    }
}
