using System.Text.Json.Serialization;

namespace MlPipelines.ManagedEngine.Model;

/// <summary>
/// The shape and numeric settings of a LLaMA-family decoder. Every engine and every checkpoint
/// reader agrees on this one description, so it carries only what the forward pass needs.
/// </summary>
public sealed record ModelConfig
{
    /// <summary>Width of the residual stream (hidden size).</summary>
    public required int Dim { get; init; }

    /// <summary>Width of the SwiGLU feed-forward layer (intermediate size).</summary>
    public required int HiddenDim { get; init; }

    /// <summary>Number of transformer blocks.</summary>
    public required int LayerCount { get; init; }

    /// <summary>Number of query heads.</summary>
    public required int HeadCount { get; init; }

    /// <summary>Number of key/value heads (fewer than <see cref="HeadCount"/> for grouped-query attention).</summary>
    public required int KvHeadCount { get; init; }

    /// <summary>Number of tokens in the vocabulary (rows of the embedding and classifier).</summary>
    public required int VocabSize { get; init; }

    /// <summary>Maximum context length: positions 0 .. MaxSequenceLength-1 exist.</summary>
    public required int MaxSequenceLength { get; init; }

    /// <summary>True when the classifier reuses the token embedding matrix (tied weights).</summary>
    public bool SharedClassifier { get; init; } = true;

    /// <summary>RoPE base frequency (10000 for Llama 2 and llama2.c).</summary>
    public float RopeTheta { get; init; } = 10000f;

    /// <summary>RoPE scaling (Llama 3.1's, or linear interpolation); <see cref="RopeScaling.None"/> for plain RoPE.</summary>
    public RopeScaling RopeScaling { get; init; } = RopeScaling.None;

    /// <summary>Epsilon added inside RMSNorm (llama2.c uses 1e-5).</summary>
    public float NormEpsilon { get; init; } = 1e-5f;

    /// <summary>Beginning-of-sequence token id.</summary>
    public int BosId { get; init; } = 1;

    /// <summary>End-of-sequence token id.</summary>
    public int EosId { get; init; } = 2;

    /// <summary>
    /// Further ids that end a generation as <see cref="EosId"/> does: the other entries of a list-valued
    /// <c>eos_token_id</c> and <c>generation_config.json</c>'s, GGUF's end-of-turn ids (Llama 3: <c>&lt;|eot_id|&gt;</c>,
    /// <c>&lt;|eom_id|&gt;</c>).
    /// </summary>
    public TokenIdList StopIds { get; init; } = TokenIdList.Empty;

    /// <summary>Whether <paramref name="id"/> ends a generation: <see cref="EosId"/> or one of <see cref="StopIds"/>.</summary>
    public bool IsEndOfSequence(int id) => id == EosId || StopIds.Contains(id);

    private readonly int _headDim;

    /// <summary>
    /// Width of one attention head: <c>Dim / HeadCount</c> unless set explicitly (Hugging Face's <c>head_dim</c>,
    /// GGUF's <c>attention.key_length</c>), where it may differ, so that the query width <see cref="QueryDim"/> is not
    /// <see cref="Dim"/>.
    /// </summary>
    [JsonIgnore]
    public int HeadDim
    {
        get => _headDim != 0 ? _headDim : Dim / HeadCount;
        init => _headDim = value;
    }

    // Serialised only when explicit, so a configuration written and read back (an export manifest) equals the original.
    [JsonInclude]
    [JsonPropertyName("headDim")]
    private int? ExplicitHeadDim
    {
        get => _headDim == 0 ? null : _headDim;
        init => _headDim = value ?? 0;
    }

    /// <summary>True when <see cref="HeadDim"/> was set explicitly rather than derived from <see cref="Dim"/>.</summary>
    public bool HasExplicitHeadDim => _headDim != 0;

    /// <summary>Width of the query projection and of the attention output: <c>HeadCount * HeadDim</c>.</summary>
    public int QueryDim => HeadCount * HeadDim;

    /// <summary>Width of the key (and value) projection: <c>KvHeadCount * HeadDim</c>.</summary>
    public int KvDim => KvHeadCount * HeadDim;

    /// <summary>Number of query heads that share one key/value head.</summary>
    public int KvGroupSize => HeadCount / KvHeadCount;
}
