namespace MlPipelines.ManagedEngine.Tests.Support;

/// <summary>Locates the repository and the shared test data (../shared beside the repository).</summary>
internal static class TestPaths
{
    public static string RepoRoot { get; } = FindRepoRoot();

    /// <summary>The shared folder: MLPIPE_SHARED when set, else ../shared beside the repository.</summary>
    public static string Shared { get; } =
        Environment.GetEnvironmentVariable("MLPIPE_SHARED") is { Length: > 0 } s ? s : Path.GetFullPath(Path.Combine(RepoRoot, "..", "shared"));

    public static string Models => Path.Combine(Shared, "models");
    public static string Golden => Path.Combine(Shared, "golden");

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
