namespace MlPipelines.ManagedEngine.Loading;

/// <summary>
/// Finds model files from what a user typed: an explicit path, or a model name looked up in the
/// model directories, in order: <c>MLPIPE_MODELS</c>, <c>models/</c>, <c>../shared/models/</c>
/// (each relative to the working directory, then to the repository the program was built in).
/// </summary>
public static class ModelLocator
{
    /// <summary>The model used when none is named.</summary>
    public const string DefaultModelName = "stories260K";

    /// <summary>The environment variable naming an extra model directory, searched first.</summary>
    public const string ModelsEnvironmentVariable = "MLPIPE_MODELS";

    /// <summary>The directories searched for a model name, in order (existing or not).</summary>
    public static IReadOnlyList<string> SearchDirectories()
    {
        var dirs = new List<string>();
        if (Environment.GetEnvironmentVariable(ModelsEnvironmentVariable) is { Length: > 0 } env)
            dirs.Add(Path.GetFullPath(env));
        foreach (string root in CandidateRoots())
        {
            dirs.Add(Path.GetFullPath(Path.Combine(root, "models")));
            dirs.Add(Path.GetFullPath(Path.Combine(root, "..", "shared", "models")));
        }
        return dirs.Distinct(StringComparer.Ordinal).ToList();
    }

    /// <summary>
    /// Resolves <paramref name="nameOrPath"/> (null: the default model) to an existing file or
    /// directory. A path that exists is returned as is; otherwise the name is looked up in
    /// <see cref="SearchDirectories"/>.
    /// </summary>
    /// <exception cref="FileNotFoundException">Nothing matches; the message lists where it looked.</exception>
    public static string Resolve(string? nameOrPath)
    {
        string name = string.IsNullOrWhiteSpace(nameOrPath) ? DefaultModelName : nameOrPath;
        if (File.Exists(name) || Directory.Exists(name))
            return Path.GetFullPath(name);
        if (!Path.IsPathRooted(name))
        {
            foreach (string dir in SearchDirectories())
            {
                string candidate = Path.Combine(dir, name);
                if (File.Exists(candidate) || Directory.Exists(candidate))
                    return candidate;
            }
        }
        throw new FileNotFoundException(
            $"Model '{name}' not found: it is not an existing path, nor a name under any of: {string.Join(", ", SearchDirectories())}.", name);
    }

    // The working directory first, then the repository this build came from (found by walking up
    // from the program's directory to MlPipelines.sln), so `mlpipe` works from anywhere in a checkout.
    private static IEnumerable<string> CandidateRoots()
    {
        yield return Directory.GetCurrentDirectory();
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir != null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "MlPipelines.sln")))
            {
                yield return dir.FullName;
                yield break;
            }
        }
    }
}
