using MlPipelines.ManagedEngine.Model;

namespace MlPipelines.ManagedEngine.Formats.Llama2c;

/// <summary>
/// The byte layout of a llama2.c legacy (version 0) fp32 checkpoint, derived from its 7-int header
/// and validated before anything is mapped or allocated. Reader and writer share it so that they
/// cannot disagree about where a tensor lives.
/// </summary>
/// <remarks>
/// Layout (as llama2.c's <c>memory_map_weights</c> in run.c and <c>legacy_export</c> in export.py):
/// header int32 x7 (dim, hidden_dim, n_layers, n_heads, n_kv_heads, vocab_size, seq_len; a negative
/// vocab_size flags an unshared classifier), then fp32 arrays token_embedding [vocab, dim],
/// rms_att [L, dim], wq [L, dim, dim], wk [L, kv_dim, dim], wv [L, kv_dim, dim], wo [L, dim, dim],
/// rms_ffn [L, dim], w1 [L, hidden, dim], w2 [L, dim, hidden], w3 [L, hidden, dim], rms_final [dim],
/// freq_cis_real and freq_cis_imag [seq_len, head_size / 2] (unused by run.c), then wcls [vocab, dim]
/// only when unshared. Offsets below are in floats from the end of the header.
/// </remarks>
internal sealed class Llama2cLayout
{
    /// <summary>Size of the header: seven little-endian int32 fields.</summary>
    public const int HeaderBytes = 7 * sizeof(int);

    private Llama2cLayout(int dim, int hidden, int layers, int heads, int kvHeads, int vocab, int seqLen, bool shared)
    {
        Dim = dim; HiddenDim = hidden; LayerCount = layers; HeadCount = heads; KvHeadCount = kvHeads;
        VocabSize = vocab; SeqLen = seqLen; SharedClassifier = shared;
        HeadSize = dim / heads;
        KvDim = dim / heads * kvHeads;

        long layersL = layers;
        long o = 0;
        TokenEmbedding = o; o += (long)vocab * dim;
        RmsAtt = o; o += layersL * dim;
        Wq = o; o += layersL * WqSize;
        Wk = o; o += layersL * WkSize;
        Wv = o; o += layersL * WkSize;
        Wo = o; o += layersL * WqSize;
        RmsFfn = o; o += layersL * dim;
        W1 = o; o += layersL * FfnSize;
        W2 = o; o += layersL * FfnSize;
        W3 = o; o += layersL * FfnSize;
        RmsFinal = o; o += dim;
        FreqCisReal = o; o += FreqCisSize;
        FreqCisImag = o; o += FreqCisSize;
        Classifier = shared ? TokenEmbedding : o;
        if (!shared) o += (long)vocab * dim;
        TotalFloats = o;
    }

    public int Dim { get; }
    public int HiddenDim { get; }
    public int LayerCount { get; }
    public int HeadCount { get; }
    public int KvHeadCount { get; }
    public int VocabSize { get; }
    public int SeqLen { get; }
    public bool SharedClassifier { get; }
    public int HeadSize { get; }
    public int KvDim { get; }

    /// <summary>Floats per layer in wq and wo.</summary>
    public int WqSize => Dim * Dim;
    /// <summary>Floats per layer in wk and wv.</summary>
    public int WkSize => KvDim * Dim;
    /// <summary>Floats per layer in w1, w2 and w3.</summary>
    public int FfnSize => HiddenDim * Dim;
    /// <summary>Floats in the embedding table and in the classifier.</summary>
    public int EmbeddingSize => VocabSize * Dim;
    /// <summary>Floats in each of the two legacy RoPE tables.</summary>
    public long FreqCisSize => (long)SeqLen * (HeadSize / 2);

    public long TokenEmbedding { get; }
    public long RmsAtt { get; }
    public long Wq { get; }
    public long Wk { get; }
    public long Wv { get; }
    public long Wo { get; }
    public long RmsFfn { get; }
    public long W1 { get; }
    public long W2 { get; }
    public long W3 { get; }
    public long RmsFinal { get; }
    public long FreqCisReal { get; }
    public long FreqCisImag { get; }
    public long Classifier { get; }
    public long TotalFloats { get; }

    /// <summary>The exact file size the header implies.</summary>
    public long FileBytes => checked(HeaderBytes + TotalFloats * sizeof(float));

    /// <summary>The header's vocab_size field: negative when the classifier is stored separately.</summary>
    public int HeaderVocabField => SharedClassifier ? VocabSize : -VocabSize;

    /// <summary>A one-line description for messages.</summary>
    public string Describe() =>
        $"dim {Dim}, hidden_dim {HiddenDim}, n_layers {LayerCount}, n_heads {HeadCount}, n_kv_heads {KvHeadCount}, " +
        $"vocab_size {VocabSize}, seq_len {SeqLen}, {(SharedClassifier ? "shared" : "separate")} classifier";

    public ModelConfig ToConfig() => new()
    {
        Dim = Dim,
        HiddenDim = HiddenDim,
        LayerCount = LayerCount,
        HeadCount = HeadCount,
        KvHeadCount = KvHeadCount,
        VocabSize = VocabSize,
        MaxSequenceLength = SeqLen,
        SharedClassifier = SharedClassifier,
        // llama2.c conventions; the format has no fields for them.
        RopeTheta = 10000f,
        NormEpsilon = 1e-5f,
        BosId = 1,
        EosId = 2,
    };

    /// <summary>
    /// Validates raw header values. On failure returns null and a message naming the offending
    /// header field, e.g. <c>header field n_kv_heads = 3 does not divide n_heads = 8</c>.
    /// </summary>
    public static Llama2cLayout? TryCreate(int dim, int hidden, int layers, int heads, int kvHeads, int vocabField,
        int seqLen, out string error)
    {
        // vocab_size is signed; take its magnitude in long so int.MinValue cannot overflow.
        long vocab = Math.Abs((long)vocabField);
        error = ShapeRules.Validate(FieldNames, dim, hidden, layers, heads, kvHeads, vocab, seqLen, shownVocab: vocabField) ?? "";
        if (error.Length != 0)
            return null;
        return new Llama2cLayout(dim, hidden, layers, heads, kvHeads, (int)vocab, seqLen, shared: vocabField > 0);
    }

    private static readonly ShapeFieldNames FieldNames = new("header field ", "dim", "hidden_dim", "n_layers", "n_heads", "n_kv_heads",
        "vocab_size", "seq_len", "token_embedding", "wq", "w1");

    /// <summary>The layout of <paramref name="config"/>, or null and a message when it cannot be stored.</summary>
    public static Llama2cLayout? TryCreate(ModelConfig config, out string error)
    {
        if (config.VocabSize <= 0 || config.VocabSize > ModelLimits.MaxVocab)
        {
            // Checked here because the sign of vocab_size carries the shared flag in the header.
            error = $"header field vocab_size = {config.VocabSize} is outside the supported range 1..{ModelLimits.MaxVocab}";
            return null;
        }
        return TryCreate(config.Dim, config.HiddenDim, config.LayerCount, config.HeadCount, config.KvHeadCount,
            config.SharedClassifier ? config.VocabSize : -config.VocabSize, config.MaxSequenceLength, out error);
    }
}
