namespace MlPipelines.Tests.Support;

/// <summary>Locates the repository, its committed models (<c>models/</c>) and test data (<c>tests/data/</c>).</summary>
internal static class TestPaths
{
    public static string RepoRoot { get; } = FindRepoRoot();

    /// <summary>The repository's <c>models/</c> folder (see models/README.md).</summary>
    public static string Models => Path.Combine(RepoRoot, "models");

    /// <summary>Reference outputs with their provenance (see tests/data/golden/README.md).</summary>
    public static string Golden => Path.Combine(RepoRoot, "tests", "data", "golden");

    public static string Stories260K => Path.Combine(Models, "stories260K", "stories260K.bin");
    public static string Tok512Bin => Path.Combine(Models, "stories260K", "tok512.bin");
    public static string Tok512Model => Path.Combine(Models, "stories260K", "tok512.model");
    public static string Llama2TokenizerBin => Path.Combine(Models, "llama2-tokenizer", "tokenizer.bin");
    public static string Llama2TokenizerModel => Path.Combine(Models, "llama2-tokenizer", "tokenizer.model");

    private static string FindRepoRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir != null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "MlPipelines.sln")))
                return dir.FullName;
        throw new InvalidOperationException("Cannot find MlPipelines.sln above " + AppContext.BaseDirectory);
    }
}
