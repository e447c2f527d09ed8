using MlPipelines.ManagedEngine.Formats;
using MlPipelines.ManagedEngine.Model;
using MlPipelines.ManagedEngine.Quantization;

namespace MlPipelines.ManagedEngine.Formats.Llama2c;

/// <summary>
/// The byte layout of a llama2.c version-2 (Q8_0) checkpoint, derived from its header and validated before
/// anything is mapped or allocated.
/// </summary>
/// <remarks>
/// As written by export.py's <c>version2_export</c> and read by runq.c: a 256-byte header (uint32 magic "ak42",
/// int32 version 2, int32 dim, hidden_dim, n_layers, n_heads, n_kv_heads, vocab_size, seq_len, uint8
/// shared_classifier, int32 group_size at byte 37 — unaligned — then zero padding); fp32 rms_att [L, dim],
/// rms_ffn [L, dim], rms_final [dim]; then Q8_0 tensors, each its int8 values followed directly by its fp32
/// scales (one per group of group_size over the flattened tensor): token_embedding [vocab, dim], then per layer
/// (one tensor per layer, layers consecutive) wq [dim, dim] ×L, wk [kv_dim, dim] ×L, wv ×L, wo [dim, dim] ×L,
/// w1 [hidden, dim] ×L, w2 [dim, hidden] ×L, w3 [hidden, dim] ×L, and wcls [vocab, dim] only when not shared.
/// export.py only makes group_size divide dim; it need not divide hidden_dim, so w2's groups may straddle rows.
/// </remarks>
internal sealed class Llama2cQ80Layout
{
    public const int HeaderBytes = 256;
    public const int Version = 2;

    private Llama2cQ80Layout(Llama2cLayout shape, bool shared, int groupSize)
    {
        Shape = shape;
        SharedClassifier = shared;
        GroupSize = groupSize;
        long o = HeaderBytes;
        RmsAtt = o; o += 4L * shape.LayerCount * shape.Dim;
        RmsFfn = o; o += 4L * shape.LayerCount * shape.Dim;
        RmsFinal = o; o += 4L * shape.Dim;
        TokenEmbedding = o; o += TensorBytes(shape.EmbeddingSize);
        Wq = o; o += shape.LayerCount * TensorBytes(shape.WqSize);
        Wk = o; o += shape.LayerCount * TensorBytes(shape.WkSize);
        Wv = o; o += shape.LayerCount * TensorBytes(shape.WkSize);
        Wo = o; o += shape.LayerCount * TensorBytes(shape.WqSize);
        W1 = o; o += shape.LayerCount * TensorBytes(shape.FfnSize);
        W2 = o; o += shape.LayerCount * TensorBytes(shape.FfnSize);
        W3 = o; o += shape.LayerCount * TensorBytes(shape.FfnSize);
        Classifier = shared ? TokenEmbedding : o;
        if (!shared) o += TensorBytes(shape.EmbeddingSize);
        FileBytes = o;
    }

    /// <summary>Dimensions, validated as for version-0 files.</summary>
    public Llama2cLayout Shape { get; }
    public bool SharedClassifier { get; }
    public int GroupSize { get; }

    // Byte offsets from the start of the file.
    public long RmsAtt { get; }
    public long RmsFfn { get; }
    public long RmsFinal { get; }
    public long TokenEmbedding { get; }
    public long Wq { get; }
    public long Wk { get; }
    public long Wv { get; }
    public long Wo { get; }
    public long W1 { get; }
    public long W2 { get; }
    public long W3 { get; }
    public long Classifier { get; }

    /// <summary>The exact file size the header implies.</summary>
    public long FileBytes { get; }

    /// <summary>Bytes of one Q8_0 tensor of <paramref name="elements"/> values: int8 values, then fp32 scales.</summary>
    public long TensorBytes(long elements) => elements + 4 * (elements / GroupSize);

    public ModelConfig ToConfig() => Shape.ToConfig() with { SharedClassifier = SharedClassifier };

    public string Describe() =>
        $"dim {Shape.Dim}, hidden_dim {Shape.HiddenDim}, n_layers {Shape.LayerCount}, n_heads {Shape.HeadCount}, " +
        $"n_kv_heads {Shape.KvHeadCount}, vocab_size {Shape.VocabSize}, seq_len {Shape.SeqLen}, " +
        $"{(SharedClassifier ? "shared" : "separate")} classifier, group_size {GroupSize}";

    /// <summary>Validates raw header values; on failure returns null and a message naming the header field.</summary>
    public static Llama2cQ80Layout? TryCreate(ReadOnlySpan<int> config, byte sharedFlag, int groupSize, out string error)
    {
        // Version 2 stores the shared flag separately, so vocab_size must be positive (version 0 used its sign).
        if (config[5] <= 0)
        {
            error = $"header field vocab_size = {config[5]} must be positive";
            return null;
        }
        Llama2cLayout? shape = Llama2cLayout.TryCreate(config[0], config[1], config[2], config[3], config[4], config[5], config[6], out error);
        if (shape is null)
            return null;
        error = sharedFlag > 1 ? $"header field shared_classifier = {sharedFlag} must be 0 or 1"
            : groupSize <= 0 ? $"header field group_size = {groupSize} must be positive"
            : groupSize > Q8Groups.MaxGroupSize ? $"header field group_size = {groupSize} exceeds the supported maximum {Q8Groups.MaxGroupSize}"
            : DivisionError(groupSize, "token_embedding [vocab_size, dim]", shape.EmbeddingSize)
              ?? DivisionError(groupSize, "wq [dim, dim]", shape.WqSize)
              ?? DivisionError(groupSize, "wk [kv_dim, dim]", shape.WkSize)
              ?? DivisionError(groupSize, "w1 [hidden_dim, dim]", shape.FfnSize)
              ?? "";
        return error.Length == 0 ? new Llama2cQ80Layout(shape, sharedFlag == 1, groupSize) : null;
    }

    // Groups must not run across the end of a tensor: each tensor's scales follow its own values.
    private static string? DivisionError(int groupSize, string tensor, long elements) =>
        elements % groupSize == 0 ? null
            : $"header field group_size = {groupSize} does not divide the {elements} elements of {tensor}";
}
