namespace MlPipelines.Hub.Tests;

/// <summary>The small pieces: retry delays, ETags, verification, disk space, the repository listing.</summary>
public sealed class HelperTests
{
    private static readonly HubOptions Fast = new() { RetryBaseDelay = TimeSpan.FromSeconds(1), MaxRetryDelay = TimeSpan.FromSeconds(10) };

    [Fact]
    public void Retry_delays_double_honour_retry_after_and_are_capped()
    {
        Assert.Equal(TimeSpan.FromSeconds(1), HubRetry.Delay(2, null, Fast));
        Assert.Equal(TimeSpan.FromSeconds(2), HubRetry.Delay(3, null, Fast));
        Assert.Equal(TimeSpan.FromSeconds(4), HubRetry.Delay(4, null, Fast));
        Assert.Equal(TimeSpan.FromSeconds(10), HubRetry.Delay(30, null, Fast));
        Assert.Equal(TimeSpan.FromSeconds(7), HubRetry.Delay(2, TimeSpan.FromSeconds(7), Fast));
        Assert.Equal(TimeSpan.FromSeconds(10), HubRetry.Delay(2, TimeSpan.FromHours(1), Fast));
        Assert.Equal(TimeSpan.Zero, HubRetry.Delay(2, TimeSpan.FromSeconds(-3), Fast));
    }

    [Fact]
    public void Retry_after_is_read_as_seconds_or_a_date()
    {
        using var seconds = new HttpResponseMessage(System.Net.HttpStatusCode.TooManyRequests);
        seconds.Headers.Add("Retry-After", "5");
        Assert.Equal(TimeSpan.FromSeconds(5), HubRetry.RetryAfter(seconds));
        using var date = new HttpResponseMessage(System.Net.HttpStatusCode.ServiceUnavailable);
        date.Headers.Add("Retry-After", DateTimeOffset.UtcNow.AddMinutes(2).ToString("R"));
        Assert.InRange(HubRetry.RetryAfter(date)!.Value, TimeSpan.FromSeconds(100), TimeSpan.FromSeconds(121));
    }

    [Theory]
    [InlineData("\"abc123\"", "abc123")]
    [InlineData("W/\"abc123\"", "abc123")]
    [InlineData("abc123", "abc123")]
    [InlineData("\"\"", null)]
    [InlineData(null, null)]
    public void Etags_lose_quotes_and_the_weak_prefix(string? raw, string? expected) =>
        Assert.Equal(expected, FileMetadata.NormalizeEtag(raw));

    [Fact]
    public void Unsafe_etags_are_refused()
    {
        using var response = new HttpResponseMessage(System.Net.HttpStatusCode.OK);
        response.Headers.Add("X-Linked-Etag", "\"../../evil\"");
        var e = Assert.Throws<HubException>(() => FileMetadata.FromResponse(response, new RequestSubject("a/b", "main", "f")));
        Assert.Equal(HubErrorKind.Protocol, e.Kind);
    }

    [Fact]
    public void Redirect_metadata_takes_the_linked_size_not_the_redirect_body_length()
    {
        using var response = new HttpResponseMessage(System.Net.HttpStatusCode.Found) { Content = new ByteArrayContent(new byte[17]) };
        response.Headers.Add("X-Linked-Etag", "\"" + new string('a', 64) + "\"");
        response.Headers.Add("X-Linked-Size", "123456789");
        response.Headers.Add("X-Repo-Commit", new string('c', 40));
        var meta = FileMetadata.FromResponse(response, new RequestSubject("a/b", "main", "f"));
        Assert.Equal((new string('c', 40), new string('a', 64), (long?)123456789), (meta.Commit, meta.Etag, meta.Size));

        using var redirectOnly = new HttpResponseMessage(System.Net.HttpStatusCode.Found) { Content = new ByteArrayContent(new byte[17]) };
        redirectOnly.Headers.Add("ETag", "\"x1\"");
        Assert.Null(FileMetadata.FromResponse(redirectOnly, new RequestSubject("a/b", "main", "f")).Size);
    }

    [Fact]
    public void Git_blob_sha1_matches_git_hash_object()
    {
        string path = Path.GetTempFileName();
        try
        {
            File.WriteAllText(path, "hello\n");
            // `printf 'hello\n' | git hash-object --stdin`
            Assert.Equal("ce013625030ba8dba906f756967f9e9ca394464a", BlobVerifier.GitBlobSha1(path, 6));
            BlobVerifier.Verify(path, "ce013625030ba8dba906f756967f9e9ca394464a", 6, "hello.txt");
            BlobVerifier.Verify(path, "5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03", null, "hello.txt"); // sha256
            BlobVerifier.Verify(path, "some-opaque-etag", 6, "hello.txt");   // size only
            var e = Assert.Throws<HubException>(() => BlobVerifier.Verify(path, "some-opaque-etag", 7, "hello.txt"));
            Assert.Contains("size mismatch for hello.txt", e.Message);
            Assert.False(File.Exists(path));
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public void A_full_disk_is_recognised_by_its_error_code()
    {
        if (OperatingSystem.IsWindows())
        {
            Assert.True(DiskSpace.IsDiskFull(new IOException("full", unchecked((int)0x80070070))));
            Assert.True(DiskSpace.IsDiskFull(new IOException("full", unchecked((int)0x80070027))));
        }
        else
        {
            Assert.True(DiskSpace.IsDiskFull(new IOException("No space left on device", 28)));
        }
        Assert.False(DiskSpace.IsDiskFull(new IOException("other", 5)));
        Assert.Equal("not enough disk space in /x", DiskSpace.Full("/x", new IOException("full", 28)).Message);
    }

    [Fact]
    public void Too_little_free_space_fails_early_with_the_numbers()
    {
        var e = Assert.Throws<HubException>(() => DiskSpace.EnsureAvailable("/cache/blobs", 5_000_000_000, _ => 1_000_000_000));
        Assert.Equal(HubErrorKind.DiskFull, e.Kind);
        Assert.Contains("not enough disk space in /cache/blobs", e.Message);
        Assert.Contains("5,000,000,000 bytes", e.Message);
        Assert.Contains("1,000,000,000 bytes", e.Message);
        DiskSpace.EnsureAvailable("/cache/blobs", 5, _ => 1_000_000_000);
        DiskSpace.EnsureAvailable("/cache/blobs", 5, _ => null);   // unknown: go ahead
    }

    [Fact]
    public void Free_space_is_read_for_a_directory_inside_a_drive()
    {
        long? free = DiskSpace.FreeBytes(Path.GetTempPath());
        Assert.NotNull(free);
        Assert.True(free > 0);
        // Far more than any disk: the check must fail on the real drive too.
        Assert.Throws<HubException>(() => DiskSpace.EnsureAvailable(Path.GetTempPath(), long.MaxValue));
    }

    [Fact]
    public void The_listing_takes_lfs_sizes_and_requires_a_commit()
    {
        string sha = new('a', 40);
        var info = RepoInfo.Parse($$$"""{"sha":"{{{sha}}}","siblings":[{"rfilename":"a.json","size":12},{"rfilename":"m.safetensors","size":134,"lfs":{"sha256":"x","size":999}},{"rfilename":"n"}]}""", "a/b");
        Assert.Equal(sha, info.Commit);
        Assert.Equal([("a.json", (long?)12), ("m.safetensors", 999), ("n", null)], info.Files.Select(f => (f.Name, f.Size)));
        Assert.Equal(HubErrorKind.Protocol, Assert.Throws<HubException>(() => RepoInfo.Parse("""{"siblings":[]}""", "a/b")).Kind);
        Assert.Equal(HubErrorKind.Protocol, Assert.Throws<HubException>(() => RepoInfo.Parse("not json", "a/b")).Kind);
    }

    [Theory]
    [InlineData("../evil")]
    [InlineData("/etc/passwd")]
    [InlineData("a/../../b")]
    [InlineData("a\\b")]
    [InlineData("a//b")]
    public void Unsafe_file_names_are_refused(string name)
    {
        var layout = new CacheLayout(Path.GetTempPath(), "a/b");
        Assert.Equal(HubErrorKind.Protocol, Assert.Throws<HubException>(() => layout.SnapshotPath(new string('c', 40), name)).Kind);
    }

    [Theory]
    [InlineData("1", true)]
    [InlineData("true", true)]
    [InlineData("YES", true)]
    [InlineData("On", true)]
    [InlineData("0", false)]
    [InlineData("", false)]
    [InlineData(null, false)]
    public void Offline_values_are_read_like_huggingface_hub(string? value, bool expected) =>
        Assert.Equal(expected, HubOptions.IsTrue(value));

    [Fact]
    public void Bad_options_name_the_property()
    {
        Assert.Contains("Endpoint", Assert.Throws<ArgumentException>(() => new HubClient(new HubOptions { Endpoint = "ftp://x" })).Message);
        Assert.Contains("MaxAttempts", Assert.Throws<ArgumentException>(() => new HubClient(new HubOptions { MaxAttempts = 0 })).Message);
    }
}
