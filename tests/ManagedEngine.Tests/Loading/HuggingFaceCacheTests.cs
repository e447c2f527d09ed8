using MlPipelines.ManagedEngine.Loading;
using MlPipelines.Tests.Support;

namespace MlPipelines.ManagedEngine.Tests.Loading;

/// <summary>Reading huggingface_hub's cache layout: repository ids, refs and snapshots, offline.</summary>
public class HuggingFaceCacheTests
{
    private const string Commit = "0123456789abcdef0123456789abcdef01234567";
    private const string OtherCommit = "fedcba9876543210fedcba9876543210fedcba98";

    [Theory]
    [InlineData("TinyLlama/TinyLlama-1.1B-Chat-v1.0", "TinyLlama/TinyLlama-1.1B-Chat-v1.0", "main")]
    [InlineData("org/name@v1.0", "org/name", "v1.0")]
    [InlineData("org/name@refs/pr/3", "org/name", "refs/pr/3")]
    [InlineData("org/model_x.y@" + Commit, "org/model_x.y", Commit)]
    public void Repository_ids_split_into_id_and_revision(string text, string repoId, string revision)
    {
        Assert.True(HuggingFaceCache.TryParseRepoId(text, out string id, out string rev));
        Assert.Equal(repoId, id);
        Assert.Equal(revision, rev);
    }

    [Theory]
    [InlineData("stories260K")]
    [InlineData("models/org/name")]
    [InlineData("/abs/path")]
    [InlineData("org/..")]
    [InlineData("org/name@")]
    [InlineData("org/name@../../etc")]
    [InlineData("org/name@a\\b")]
    [InlineData("")]
    public void Other_text_is_not_a_repository_id(string text) =>
        Assert.False(HuggingFaceCache.TryParseRepoId(text, out _, out _));

    [Fact]
    public void The_cache_folder_is_named_as_huggingface_hub_names_it() =>
        Assert.Equal(Path.Combine("/c", "models--org--name"), HuggingFaceCache.RepoDirectory("/c", "org/name"));

    [Fact]
    public void A_branch_resolves_through_refs_and_a_commit_directly()
    {
        using var hub = new TempDir();
        string repo = HuggingFaceCache.RepoDirectory(hub.Path, "org/name");
        Directory.CreateDirectory(Path.Combine(repo, "snapshots", Commit));
        Directory.CreateDirectory(Path.Combine(repo, "snapshots", OtherCommit));
        Directory.CreateDirectory(Path.Combine(repo, "refs"));
        File.WriteAllText(Path.Combine(repo, "refs", "main"), Commit);

        Assert.Equal(Path.Combine(repo, "snapshots", Commit), HuggingFaceCache.TryResolveSnapshot("org/name", hub.Path));
        Assert.Equal(Path.Combine(repo, "snapshots", OtherCommit), HuggingFaceCache.TryResolveSnapshot("org/name@" + OtherCommit, hub.Path));
        Assert.Null(HuggingFaceCache.TryResolveSnapshot("org/name@v2", hub.Path));         // never pulled
        Assert.Null(HuggingFaceCache.TryResolveSnapshot("org/other", hub.Path));
        Assert.Null(HuggingFaceCache.TryResolveSnapshot("org/name@" + new string('a', 40), hub.Path)); // no such snapshot
    }

    [Fact]
    public void A_ref_that_does_not_hold_a_commit_hash_resolves_to_nothing()
    {
        using var hub = new TempDir();
        string repo = HuggingFaceCache.RepoDirectory(hub.Path, "org/name");
        Directory.CreateDirectory(Path.Combine(repo, "refs"));
        Directory.CreateDirectory(Path.Combine(repo, "snapshots", "..x"));
        File.WriteAllText(Path.Combine(repo, "refs", "main"), "../../escape");
        Assert.Null(HuggingFaceCache.TryResolveSnapshot("org/name", hub.Path));
    }
}
