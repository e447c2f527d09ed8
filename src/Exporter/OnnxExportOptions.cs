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
    /// 4-bit symmetric blocks (MatMulNBits; fused profile), by default of 128 values (<see cref="OnnxExportOptions.BlockSize"/>).
    /// In blocks of 32 it is exactly ggml's Q4_0: taken from a Q4_0 GGUF as stored, or quantised with ggml's reference rule.
    /// </summary>
    Int4,

    /// <summary>4-bit asymmetric blocks with a zero point per block (MatMulNBits; fused profile), by default of 128 values.</summary>
    Int4Asymmetric,

    /// <summary>
    /// 8-bit symmetric blocks of 32 by default (MatMulNBits; fused profile): exactly ggml's Q8_0. A GGUF's Q6_K matrices are
    /// carried exactly as 8-bit blocks of 16.
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
    /// Values per quantisation block of int4/int8 weights (MatMulNBits' <c>block_size</c>): a power of two from 16 to 256, or
    /// null (default) for the precision's own default (<see cref="DefaultBlockSize"/>): 128 for int4, 32 for int8.
    /// </summary>
    /// <remarks>
    /// Every block stores an fp32 scale (MatMulNBits' scales have the activations' type), and on x86-64 ONNX Runtime's int8
    /// kernels keep an fp32 block-sum term beside it, so in memory int4 takes 4 bits plus 64 bits per block: 6 bits per weight
    /// in blocks of 32, 5 in blocks of 64, 4.5 in blocks of 128 — what llama.cpp's Q4_0 reads. Decode streams every weight
    /// once per token, so where it is bound by memory its speed follows those bytes (on a Zen 4 core blocks of 128 decode
    /// 1.2–1.5× faster than blocks of 32; docs/benchmarks.md). Blocks of 32 are ggml's: a GGUF's Q4_0/Q8_0 blocks are then
    /// carried bit for bit, which is what a parity check against the managed engine on the same file wants; at any other
    /// size such blocks are dequantised and quantised again (<see cref="OnnxExportResult.RequantizedFormats"/>).
    /// </remarks>
    public int? BlockSize { get; init; }

    /// <summary>The block size int4/int8 weights get when <see cref="BlockSize"/> is null: 128 for int4, 32 (ggml's Q8_0) for int8.</summary>
    /// <exception cref="ArgumentException"><paramref name="weights"/> is fp32 or fp16, which have no blocks.</exception>
    public static int DefaultBlockSize(OnnxWeightPrecision weights) => weights switch
    {
        OnnxWeightPrecision.Int4 or OnnxWeightPrecision.Int4Asymmetric => 128,
        OnnxWeightPrecision.Int8 => 32,
        _ => throw new ArgumentException($"{weights} weights have no quantisation blocks.", nameof(weights)),
    };

    /// <summary>The block size the export uses: <see cref="BlockSize"/>, else <see cref="DefaultBlockSize"/>; null for fp32/fp16.</summary>
    internal int? EffectiveBlockSize => Weights is OnnxWeightPrecision.Float32 or OnnxWeightPrecision.Float16 ? null : BlockSize ?? DefaultBlockSize(Weights);

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

    /// <summary>
    /// The formats of the source's stored quantised matrices (a GGUF's <c>Q4_0</c>, <c>Q6_K</c>, …) that this export could not
    /// carry as they are and dequantised and quantised again into its own blocks, e.g. Q4_0 blocks in an int4 export with
    /// blocks of 128, or a Q6_K classifier in an int4 export; empty when every stored block was carried or the weights were
    /// quantised from fp32/fp16 values.
    /// </summary>
    public IReadOnlyList<string> RequantizedFormats { get; init; } = [];
}
