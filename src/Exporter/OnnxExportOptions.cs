namespace MlPipelines.Exporter;

/// <summary>Which operators an export may use.</summary>
public enum OnnxExportProfile
{
    /// <summary>Standard ONNX operators only (default domain, opset 17): runs on every execution provider.</summary>
    Portable,

    /// <summary>
    /// Reserved for a graph using ONNX Runtime's fused contrib operators (<c>com.microsoft</c>:
    /// GroupQueryAttention, RotaryEmbedding, SimplifiedLayerNormalization). Not built yet.
    /// </summary>
    Fused,
}

/// <summary>Options of <see cref="OnnxExporter.Export"/>.</summary>
public sealed record OnnxExportOptions
{
    /// <summary>
    /// Store the weights in <c>model.onnx.data</c> beside the model. Forced on when the weights are too
    /// large to embed (a protobuf message is limited to 2 GiB).
    /// </summary>
    public bool ExternalData { get; init; }

    /// <summary>Replace an existing non-empty output directory (only once the new export is complete).</summary>
    public bool Force { get; init; }

    /// <summary>
    /// A tokenizer file to copy into the export directory and name in the manifest (null: none). For a GGUF
    /// file only its tokenizer is written, as a SentencePiece <c>tokenizer.model</c>.
    /// </summary>
    public string? TokenizerPath { get; init; }

    /// <summary>The operator profile (default <see cref="OnnxExportProfile.Portable"/>).</summary>
    public OnnxExportProfile Profile { get; init; } = OnnxExportProfile.Portable;

    // Above this many weight bytes, external data is used whatever was asked (lowered by tests).
    internal long EmbeddedLimitBytes { get; init; } = Graph.OnnxModelWriter.EmbeddedLimitBytes;
}

/// <summary>What an export wrote.</summary>
public sealed record OnnxExportResult
{
    /// <summary>The export directory (full path).</summary>
    public required string OutputDirectory { get; init; }

    /// <summary>The ONNX model file.</summary>
    public required string ModelPath { get; init; }

    /// <summary>The external-data file, or null when the weights are embedded.</summary>
    public string? ExternalDataPath { get; init; }

    /// <summary>The manifest (<see cref="ExportManifest.FileName"/>).</summary>
    public required string ManifestPath { get; init; }

    /// <summary>The copied tokenizer, or null.</summary>
    public string? TokenizerPath { get; init; }

    /// <summary>Size of the model file in bytes.</summary>
    public long ModelBytes { get; init; }

    /// <summary>Size of the external-data file in bytes (0 when none).</summary>
    public long ExternalDataBytes { get; init; }

    /// <summary>Wall-clock time of the whole export.</summary>
    public TimeSpan Elapsed { get; init; }

    /// <summary>The manifest written beside the model.</summary>
    public required ExportManifest Manifest { get; init; }

    /// <summary>
    /// Why the tokenizer could not also be written as tokenizer.json for onnxruntime-genai (a SentencePiece model with a
    /// normalization the Llama 2 form does not express); null when it was, or when there is no tokenizer.
    /// </summary>
    public string? GenAiTokenizerProblem { get; init; }
}
