namespace MlPipelines.Exporter;

/// <summary>Which operators an export may use.</summary>
public enum OnnxExportProfile
{
    /// <summary>Standard ONNX operators only (default domain, opset 17): runs on every execution provider.</summary>
    Portable,

    /// <summary>
    /// ONNX Runtime's fused contrib operators, as onnxruntime-genai's model builder uses them (<c>com.microsoft</c>
    /// GroupQueryAttention with rotary embedding and a KV buffer shared by past and present, SkipSimplifiedLayerNormalization,
    /// MatMulNBits for int4/int8 weights): faster on ONNX Runtime's CPU and CUDA providers, and the only profile for
    /// quantised weights. Needs a provider with the contrib operators.
    /// </summary>
    Fused,
}

/// <summary>How an export stores the linear layers' weights (<see cref="OnnxExportOptions.Weights"/>).</summary>
public enum OnnxWeightPrecision
{
    /// <summary>fp32, as loaded (both profiles).</summary>
    Float32,

    /// <summary>fp16 in the file (half the size), widened to fp32 by ONNX Runtime at load (fused profile).</summary>
    Float16,

    /// <summary>
    /// 4-bit symmetric blocks of 32 (MatMulNBits; fused profile): exactly ggml's Q4_0, taken from a Q4_0 GGUF as stored or
    /// quantised with ggml's reference rule.
    /// </summary>
    Int4,

    /// <summary>4-bit asymmetric blocks of 32 with a zero point per block (MatMulNBits; fused profile).</summary>
    Int4Asymmetric,

    /// <summary>
    /// 8-bit symmetric blocks of 32 (MatMulNBits; fused profile): exactly ggml's Q8_0. A GGUF's Q6_K matrices are carried
    /// exactly as 8-bit blocks of 16.
    /// </summary>
    Int8,
}

/// <summary>Options of <see cref="OnnxExporter"/>.Export.</summary>
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

    /// <summary>
    /// How the linear layers' weights are stored (default <see cref="OnnxWeightPrecision.Float32"/>); anything else needs
    /// <see cref="OnnxExportProfile.Fused"/>. The embedding table and norms stay fp32.
    /// </summary>
    public OnnxWeightPrecision Weights { get; init; } = OnnxWeightPrecision.Float32;

    /// <summary>
    /// MatMulNBits' <c>accuracy_level</c> for int4/int8 weights: 4 (default) quantises the activations to int8 per block and
    /// multiplies in integers, as llama.cpp does; 0 dequantises the weights and multiplies in fp32 (slower, closer to fp32).
    /// </summary>
    public int MatMulAccuracyLevel { get; init; } = 4;

    /// <summary>
    /// Values per quantisation block of int4/int8 weights (MatMulNBits' <c>block_size</c>): a power of two from 16 to 256,
    /// default 32 — ggml's Q4_0/Q8_0 block, so a GGUF's blocks are carried bit for bit. Each block stores an fp32 scale
    /// (MatMulNBits' scales have the activations' type), so int4 at 32 takes 5 bits per weight where Q4_0 takes 4.5; at 64
    /// it takes 4.5 (decode reads that much less), quantised afresh from the weights' values.
    /// </summary>
    public int BlockSize { get; init; } = 32;

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
