using System.Security.Cryptography;
using MlPipelines.Exporter;
using MlPipelines.ManagedEngine.Loading;

namespace MlPipelines.Pipelines;

/// <summary>
/// ONNX exports of checkpoints kept in a cache directory, keyed by the checkpoint's and tokenizer's
/// content, so a changed model is exported afresh and an unchanged one only once.
/// </summary>
public static class OnnxExportCache
{
    /// <summary>Environment variable that overrides the cache directory.</summary>
    public const string CacheEnvironmentVariable = "MLPIPE_CACHE";

    /// <summary><c>$MLPIPE_CACHE</c>, else <c>$XDG_CACHE_HOME/mlpipe</c>, else <c>~/.cache/mlpipe</c>.</summary>
    public static string DefaultDirectory =>
        Environment.GetEnvironmentVariable(CacheEnvironmentVariable) is { Length: > 0 } explicitDir ? explicitDir
        : Environment.GetEnvironmentVariable("XDG_CACHE_HOME") is { Length: > 0 } xdg ? Path.Combine(xdg, "mlpipe")
        : Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".cache", "mlpipe");

    /// <summary>
    /// The export directory for a checkpoint and tokenizer, exporting it first when the cache lacks it.
    /// </summary>
    /// <param name="checkpoint">A model file or directory in any format <see cref="ModelSource"/> detects.</param>
    /// <param name="tokenizer">Its tokenizer file (copied into the export; from a GGUF file, its tokenizer only).</param>
    /// <param name="cacheDirectory">The cache root (default: <see cref="DefaultDirectory"/>).</param>
    /// <param name="exported">True when this call exported; false when the cache already had it.</param>
    public static string GetOrExport(string checkpoint, string tokenizer, string? cacheDirectory, out bool exported)
    {
        var source = ModelSource.Detect(checkpoint);
        string key = Hash(source.Files())[..16] + "-" + Hash([tokenizer])[..8];
        string name = Path.GetFileNameWithoutExtension(Path.TrimEndingDirectorySeparator(source.Path));
        string dir = Path.Combine(cacheDirectory ?? DefaultDirectory, "onnx", $"{name}-{key}".ToLowerInvariant());
        exported = false;
        if (IsComplete(dir))
            return dir;
        Directory.CreateDirectory(Path.GetDirectoryName(dir)!);
        using (var weights = source.LoadWeights())
        {
            try
            {
                OnnxExporter.Export(weights, dir, new OnnxExportOptions { TokenizerPath = tokenizer, Force = Directory.Exists(dir) });
                exported = true;
            }
            catch (IOException) when (IsComplete(dir))
            {
                // Another process exported the same model at the same time; its export is as good.
            }
        }
        return dir;
    }

    private static bool IsComplete(string dir) =>
        File.Exists(Path.Combine(dir, ExportManifest.FileName)) && File.Exists(Path.Combine(dir, ExportManifest.ModelFileName));

    // One file hashes as its SHA-256 (so existing cache entries stay valid); several, as the SHA-256 of their hashes in order.
    private static string Hash(IReadOnlyList<string> files)
    {
        var hashes = files.Select(file =>
        {
            using var stream = File.OpenRead(file);
            return SHA256.HashData(stream);
        }).ToList();
        return Convert.ToHexString(hashes.Count == 1 ? hashes[0] : SHA256.HashData(hashes.SelectMany(h => h).ToArray()));
    }
}
