namespace MlPipelines.Hub;

/// <summary>Which of a repository's files a pull downloads, as <c>huggingface_hub</c>'s <c>filter_repo_objects</c> decides.</summary>
internal static class FileSelection
{
    /// <summary>
    /// The files matching any <paramref name="include"/> glob (default <see cref="HubOptions.DefaultInclude"/>) and no
    /// <paramref name="exclude"/> glob, in the repository's order. Throws <see cref="HubException"/> when none does.
    /// </summary>
    public static IReadOnlyList<RepoFile> Select(
        RepoInfo repo, IReadOnlyList<string>? include, IReadOnlyList<string>? exclude, string repoLabel)
    {
        IReadOnlyList<string> allow = include is { Count: > 0 } ? include.Select(Normalize).ToList() : HubOptions.DefaultInclude;
        List<string> deny = (exclude ?? []).Select(Normalize).ToList();
        var selected = repo.Files
            .Where(f => allow.Any(p => GlobPattern.IsMatch(f.Name, p)) && !deny.Any(p => GlobPattern.IsMatch(f.Name, p)))
            .ToList();
        if (selected.Count == 0)
            throw new HubException(HubErrorKind.NoMatchingFiles, NoMatchMessage(repo, allow, deny, repoLabel));
        return selected;
    }

    // huggingface_hub turns "folder/" into "folder/*" so a folder name selects everything under it.
    private static string Normalize(string pattern) => pattern.EndsWith('/') ? pattern + "*" : pattern;

    private static string NoMatchMessage(RepoInfo repo, IReadOnlyList<string> allow, List<string> deny, string repoLabel)
    {
        string patterns = $"include [{string.Join(", ", allow.Select(p => $"\"{p}\""))}]" +
                          (deny.Count > 0 ? $", exclude [{string.Join(", ", deny.Select(p => $"\"{p}\""))}]" : "");
        if (repo.Files.Count == 0)
            return $"{repoLabel} has no files";
        const int shown = 8;
        string files = string.Join(", ", repo.Files.Take(shown).Select(f => f.Name)) +
                       (repo.Files.Count > shown ? $", … ({repo.Files.Count} files)" : "");
        string hint = repo.Files.Any(f => f.Name.EndsWith(".gguf", StringComparison.OrdinalIgnoreCase))
            ? "; it has GGUF files: include \"*.gguf\" (or one quantization, e.g. \"*Q4_K_M.gguf\") to download them"
            : "";
        return $"no file of {repoLabel} matches {patterns}; its files: {files}{hint}";
    }
}
