using MlPipelines.Exporter;
using MlPipelines.ManagedEngine.IO;
using MlPipelines.ManagedEngine.Loading;

namespace MlPipelines.OnnxEngine;

/// <summary>
/// ONNX exports of checkpoints kept in a cache directory, keyed by the model's and tokenizer's content
/// (<see cref="ResolvedModel.Identity"/>), so a changed model is exported afresh and an unchanged one only once.
/// </summary>
public static class OnnxExportCache
{
    /// <summary>The default cache root: <see cref="CacheDirectory.Default"/>.</summary>
    public static string DefaultDirectory => CacheDirectory.Default;

    /// <summary>The portable export directory for a model and its tokenizer, exporting it first when the cache lacks it.</summary>
    /// <param name="model">A model in any format <see cref="ModelSource"/> detects, with its tokenizer (copied into the
    /// export; from a GGUF file, its tokenizer only).</param>
    /// <param name="cacheDirectory">The cache root (default: <see cref="DefaultDirectory"/>).</param>
    /// <param name="exported">True when this call exported; false when the cache already had it.</param>
    public static string GetOrExport(ResolvedModel model, string? cacheDirectory, out bool exported) =>
        GetOrExport(model, cacheDirectory, OnnxExportProfile.Portable, OnnxWeightPrecision.Float32, out exported);

    /// <summary>
    /// The export directory for a model in a profile and weight precision (each kept apart in the cache), exporting it first
    /// when the cache lacks it.
    /// </summary>
    /// <param name="model">A model in any format <see cref="ModelSource"/> detects, with its tokenizer.</param>
    /// <param name="cacheDirectory">The cache root (default: <see cref="DefaultDirectory"/>).</param>
    /// <param name="profile">The operator profile.</param>
    /// <param name="weights">How the linear layers are stored (anything but fp32 needs the fused profile).</param>
    /// <param name="exported">True when this call exported; false when the cache already had it.</param>
    public static string GetOrExport(ResolvedModel model, string? cacheDirectory, OnnxExportProfile profile, OnnxWeightPrecision weights,
        out bool exported)
    {
        ArgumentNullException.ThrowIfNull(model);
        string tokenizer = model.TokenizerFile
            ?? throw new ArgumentException($"'{model.Path}' is already an ONNX export; run it as it is.", nameof(model));
        string name = Path.GetFileNameWithoutExtension(Path.TrimEndingDirectorySeparator(model.Path));
        // Portable fp32 keeps the name it always had; other exports say what they are, quantised ones with their block size
        // (int4's default moved from 32 to 128: an export cached under the old default is not taken for the new one).
        string variant = profile == OnnxExportProfile.Portable && weights == OnnxWeightPrecision.Float32
            ? "" : $"-{OnnxExporter.ProfileName(profile)}-{OnnxExporter.WeightsName(weights)}"
                + (weights is OnnxWeightPrecision.Float32 or OnnxWeightPrecision.Float16 ? "" : $"-b{OnnxExportOptions.DefaultBlockSize(weights)}");
        string dir = Path.Combine(cacheDirectory ?? DefaultDirectory, "onnx", $"{name}-{model.Identity[..24]}{variant}".ToLowerInvariant());
        exported = false;
        if (IsComplete(dir))
            return dir;
        Directory.CreateDirectory(Path.GetDirectoryName(dir)!);
        try
        {
            ModelExport.Export(model, dir, new OnnxExportOptions
            {
                TokenizerPath = tokenizer, Force = Directory.Exists(dir), Profile = profile, Weights = weights,
            });
            exported = true;
        }
        catch (IOException) when (IsComplete(dir))
        {
            // Another process exported the same model at the same time; its export is as good.
        }
        return dir;
    }

    private static bool IsComplete(string dir) =>
        File.Exists(Path.Combine(dir, ExportManifest.FileName)) && File.Exists(Path.Combine(dir, ExportManifest.ModelFileName));
}
