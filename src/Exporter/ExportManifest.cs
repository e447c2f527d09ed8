using System.Text.Json;
using System.Text.Json.Serialization;
using MlPipelines.ManagedEngine.Model;

namespace MlPipelines.Exporter;

/// <summary>
/// The small JSON file written beside an exported <c>model.onnx</c>: the model configuration and the
/// tokenizer's file name, so the ONNX model can be loaded again without the original checkpoint.
/// </summary>
public sealed record ExportManifest
{
    /// <summary>The manifest's file name inside an export directory.</summary>
    public const string FileName = MlPipelines.ManagedEngine.Loading.ModelSource.ExportManifestFileName;

    /// <summary>The ONNX model's file name inside an export directory.</summary>
    public const string ModelFileName = "model.onnx";

    /// <summary>The external-data file's name, when weights are stored outside the model file.</summary>
    public const string ExternalDataFileName = "model.onnx.data";

    /// <summary>The manifest format version this code writes and reads.</summary>
    public const int CurrentFormatVersion = 1;

    /// <summary>Format version of this manifest.</summary>
    public int FormatVersion { get; init; } = CurrentFormatVersion;

    /// <summary>The exported model's configuration.</summary>
    public required ModelConfig Config { get; init; }

    /// <summary>The tokenizer file's name, in the same directory (null when none was exported).</summary>
    public string? TokenizerFile { get; init; }

    /// <summary>Export profile: <c>portable</c> (standard ONNX ops only) or <c>fused</c> (ONNX Runtime's contrib operators).</summary>
    public string Profile { get; init; } = "portable";

    /// <summary>How the linear layers' weights are stored: <c>fp32</c>, <c>fp16</c>, <c>int4</c>, <c>int4-asym</c> or <c>int8</c>.</summary>
    public string Weights { get; init; } = "fp32";

    /// <summary>
    /// Values per quantisation block of int4/int8 weights (null for fp32/fp16, and in manifests written before it was
    /// recorded, when it was 32). A GGUF's Q6_K matrices carried into an int8 export keep their blocks of 16.
    /// </summary>
    public int? BlockSize { get; init; }

    /// <summary>ONNX opset of the default domain.</summary>
    public int Opset { get; init; } = 17;

    /// <summary>True when the weights are in <see cref="ExternalDataFileName"/>.</summary>
    public bool ExternalData { get; init; }

    /// <summary>Where the model was exported from (informational).</summary>
    public string? Source { get; init; }

    private static readonly JsonSerializerOptions Json = new()
    {
        WriteIndented = true,
        PropertyNamingPolicy = JsonNamingPolicy.CamelCase,
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
        // Computed members of ModelConfig (KvDim, QueryDim, ...) are not written; HeadDim only when set explicitly.
        IgnoreReadOnlyProperties = true,
    };

    /// <summary>Serialises the manifest.</summary>
    public string ToJson() => JsonSerializer.Serialize(this, Json);

    /// <summary>Reads the manifest of an export directory.</summary>
    /// <exception cref="FileNotFoundException">The directory has no manifest.</exception>
    /// <exception cref="InvalidDataException">The manifest is malformed or of another format version.</exception>
    public static ExportManifest Read(string directory)
    {
        string path = Path.Combine(directory, FileName);
        if (!File.Exists(path))
            throw new FileNotFoundException($"'{directory}' is not an exported model directory: it has no {FileName} (export one with `mlpipe export`).", path);
        ExportManifest? manifest;
        try
        {
            manifest = JsonSerializer.Deserialize<ExportManifest>(File.ReadAllText(path), Json);
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"{path}: not a valid manifest: {e.Message}", e);
        }
        if (manifest is null)
            throw new InvalidDataException($"{path}: empty manifest.");
        if (manifest.FormatVersion != CurrentFormatVersion)
            throw new InvalidDataException($"{path}: manifest format version {manifest.FormatVersion} is not supported (expected {CurrentFormatVersion}).");
        return manifest;
    }
}
