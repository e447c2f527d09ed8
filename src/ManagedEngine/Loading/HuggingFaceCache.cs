using System.Text.RegularExpressions;

namespace MlPipelines.ManagedEngine.Loading;

/// <summary>
/// The Hugging Face Hub cache as <c>huggingface_hub</c> lays it out, so models downloaded by Python tools and by
/// <c>mlpipe pull</c> are shared: <c>{cache}/models--{org}--{name}/blobs/{etag}</c> holds the file contents,
/// <c>snapshots/{commit}/{filename}</c> links (or copies) them under their names, and <c>refs/{revision}</c> holds
/// the commit a branch or tag pointed at when it was last pulled.
/// </summary>
/// <remarks>
/// The cache directory is <c>$HF_HUB_CACHE</c> when set, else <c>$HF_HOME/hub</c>, with <c>HF_HOME</c> defaulting
/// to <c>~/.cache/huggingface</c> (as in <c>huggingface_hub</c>). Resolving a name here never touches the network.
/// </remarks>
public static partial class HuggingFaceCache
{
    /// <summary>The revision used when a repository id names none.</summary>
    public const string DefaultRevision = "main";

    /// <summary><c>HF_HOME</c>, else <c>~/.cache/huggingface</c> (or <c>$XDG_CACHE_HOME/huggingface</c>).</summary>
    public static string HomeDirectory()
    {
        if (Environment.GetEnvironmentVariable("HF_HOME") is { Length: > 0 } home)
            return Path.GetFullPath(ExpandHome(home));
        string cache = Environment.GetEnvironmentVariable("XDG_CACHE_HOME") is { Length: > 0 } xdg
            ? ExpandHome(xdg)
            : Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".cache");
        return Path.GetFullPath(Path.Combine(cache, "huggingface"));
    }

    /// <summary>The hub cache directory: <c>HF_HUB_CACHE</c>, else <c>{HomeDirectory}/hub</c>.</summary>
    public static string HubDirectory() =>
        Environment.GetEnvironmentVariable("HF_HUB_CACHE") is { Length: > 0 } hub
            ? Path.GetFullPath(ExpandHome(hub))
            : Path.Combine(HomeDirectory(), "hub");

    /// <summary>
    /// Splits <c>org/name</c> or <c>org/name@revision</c> into a repository id and a revision (default
    /// <see cref="DefaultRevision"/>). False when <paramref name="text"/> is not shaped like a Hub model id.
    /// </summary>
    public static bool TryParseRepoId(string text, out string repoId, out string revision)
    {
        repoId = revision = "";
        if (string.IsNullOrEmpty(text)) return false;
        int at = text.IndexOf('@');
        string id = at < 0 ? text : text[..at];
        string rev = at < 0 ? DefaultRevision : text[(at + 1)..];
        if (!RepoIdPattern().IsMatch(id) || id.Contains("..", StringComparison.Ordinal) || !IsSafeRevision(rev))
            return false;
        repoId = id;
        revision = rev;
        return true;
    }

    /// <summary>The folder of a model repository in the cache: <c>{hubDirectory}/models--{org}--{name}</c>.</summary>
    public static string RepoDirectory(string hubDirectory, string repoId) =>
        Path.Combine(hubDirectory, "models--" + repoId.Replace("/", "--", StringComparison.Ordinal));

    /// <summary>
    /// The snapshot folder for <c>org/name[@revision]</c> in the hub cache, or null when it has not been pulled:
    /// a 40-hex revision names a commit directly; a branch or tag is read from <c>refs/{revision}</c>.
    /// </summary>
    public static string? TryResolveSnapshot(string nameWithRevision, string? hubDirectory = null)
    {
        if (!TryParseRepoId(nameWithRevision, out string repoId, out string revision))
            return null;
        string repo = RepoDirectory(hubDirectory ?? HubDirectory(), repoId);
        string? commit = IsCommitHash(revision) ? revision : ReadRef(repo, revision);
        if (commit is null) return null;
        string snapshot = Path.Combine(repo, "snapshots", commit);
        return Directory.Exists(snapshot) ? snapshot : null;
    }

    /// <summary>True for a full 40-hex-digit git commit hash.</summary>
    public static bool IsCommitHash(string revision) => CommitPattern().IsMatch(revision);

    /// <summary>
    /// A revision is used as a file name under <c>refs/</c>: branch names may hold '/', but never '..', a
    /// leading '/', a backslash or control characters.
    /// </summary>
    public static bool IsSafeRevision(string revision) =>
        revision.Length is > 0 and <= 255 && !revision.Contains("..", StringComparison.Ordinal) && !revision.StartsWith('/')
        && !revision.EndsWith('/') && !revision.Any(c => c == '\\' || char.IsControl(c));

    private static string? ReadRef(string repo, string revision)
    {
        string file = Path.Combine(repo, "refs", revision);
        if (!File.Exists(file)) return null;
        string commit = File.ReadAllText(file).Trim();
        return IsCommitHash(commit) ? commit : null;
    }

    private static string ExpandHome(string path) =>
        path == "~" || path.StartsWith("~/", StringComparison.Ordinal)
            ? Environment.GetFolderPath(Environment.SpecialFolder.UserProfile) + path[1..]
            : path;

    // Hub repository ids: one namespace and one name, each of letters, digits, '-', '_' and '.'.
    [GeneratedRegex(@"^[A-Za-z0-9][A-Za-z0-9._-]{0,95}/[A-Za-z0-9][A-Za-z0-9._-]{0,95}$")]
    private static partial Regex RepoIdPattern();

    [GeneratedRegex("^[0-9a-f]{40}$")]
    private static partial Regex CommitPattern();
}
