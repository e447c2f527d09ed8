using MlPipelines.Exporter;
using MlPipelines.ManagedEngine.Formats.Gguf;
using MlPipelines.ManagedEngine.Loading;

namespace MlPipelines.OnnxEngine;

/// <summary>Exports a resolved model the cheapest way its format allows.</summary>
public static class ModelExport
{
    /// <summary>
    /// Exports <paramref name="model"/>: a GGUF file to int4/int8 from its stored blocks (nothing widened to fp32 but the
    /// embedding table), anything else from its fp32 weights.
    /// </summary>
    /// <param name="model">A checkpoint in any format <see cref="ModelSource"/> detects (not an export).</param>
    /// <param name="outputDirectory">The export directory.</param>
    /// <param name="options">Export options (the tokenizer included).</param>
    /// <param name="cancellationToken">Stops the export; nothing is left behind.</param>
    /// <exception cref="ArgumentException">The model is already an ONNX export, or the options are invalid.</exception>
    public static OnnxExportResult Export(ResolvedModel model, string outputDirectory, OnnxExportOptions options,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(options);
        if (model.Format == ModelFormat.OnnxExport)
            throw new ArgumentException($"'{model.Path}' is already an ONNX export; name the model it was exported from.", nameof(model));
        if (model.Format == ModelFormat.Gguf && options.Profile == OnnxExportProfile.Fused
            && options.Weights is OnnxWeightPrecision.Int4 or OnnxWeightPrecision.Int8)
        {
            using var stored = GgufCheckpoint.LoadStored(model.Path, forKernels: false);
            return OnnxExporter.Export(stored, outputDirectory, options, cancellationToken);
        }
        using var weights = model.Source.LoadWeights();
        return OnnxExporter.Export(weights, outputDirectory, options, cancellationToken);
    }
}
