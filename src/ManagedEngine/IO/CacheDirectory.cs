namespace MlPipelines.ManagedEngine.IO;

/// <summary>Where this project keeps what it can recompute (ONNX exports, file hashes).</summary>
public static class CacheDirectory
{
    /// <summary>Environment variable that overrides the cache directory.</summary>
    public const string EnvironmentVariable = "MLPIPE_CACHE";

    /// <summary><c>$MLPIPE_CACHE</c>, else <c>$XDG_CACHE_HOME/mlpipe</c>, else <c>~/.cache/mlpipe</c>.</summary>
    public static string Default =>
        Environment.GetEnvironmentVariable(EnvironmentVariable) is { Length: > 0 } explicitDir ? explicitDir
        : Environment.GetEnvironmentVariable("XDG_CACHE_HOME") is { Length: > 0 } xdg ? Path.Combine(xdg, "mlpipe")
        : Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".cache", "mlpipe");
}
