using MlPipelines.ManagedEngine.Model;

namespace MlPipelines.ManagedEngine.Formats.Gguf;

/// <summary>
/// The <see cref="ModelConfig"/> of a GGUF file with <c>general.architecture = "llama"</c>, from the
/// <c>llama.*</c> keys llama.cpp's converter writes, checked as the llama2.c header is (same bounds).
/// </summary>
internal static class GgufLlamaConfig
{
    public const string Architecture = "llama";

    // GGUF's metadata keys, for ShapeRules' messages.
    private static readonly ShapeFieldNames FieldNames = new("metadata ", "'llama.embedding_length'", "'llama.feed_forward_length'",
        "'llama.block_count'", "'llama.attention.head_count'", "'llama.attention.head_count_kv'", "'llama.vocab_size'",
        "'llama.context_length'", GgufLlamaTensors.TokenEmbedding, "blk.N.attn_q.weight", "blk.N.ffn_gate.weight");

    /// <summary>Reads and validates the configuration; <see cref="ModelConfig.SharedClassifier"/> is left to the tensors.</summary>
    /// <exception cref="InvalidDataException">A key is missing, mistyped or out of range; the message names it.</exception>
    /// <exception cref="NotSupportedException">Another architecture, or a llama variant the engine does not implement.</exception>
    public static ModelConfig Read(GgufFile f)
    {
        string architecture = f.GetString("general.architecture") ?? throw f.Missing("general.architecture", "\"llama\"");
        if (architecture != Architecture)
            throw new NotSupportedException($"{f.Path}: general.architecture is '{architecture}'; only '{Architecture}' models are supported.");
        RejectUnsupportedVariants(f);

        int dim = f.RequireInt32("llama.embedding_length", 1, ModelLimits.MaxDim);
        int hidden = f.RequireInt32("llama.feed_forward_length", 1, ModelLimits.MaxHiddenDim);
        int layers = f.RequireInt32("llama.block_count", 1, ModelLimits.MaxLayers);
        int heads = f.RequireInt32("llama.attention.head_count", 1, dim);
        int kvHeads = f.GetInt32("llama.attention.head_count_kv", 1, heads) ?? heads;
        int context = f.RequireInt32("llama.context_length", 1, ModelLimits.MaxSeqLen);
        int vocab = VocabSize(f, dim);
        int? explicitHeadDim = ExplicitHeadDim(f, dim, heads);
        if (ShapeRules.Validate(FieldNames, dim, hidden, layers, heads, kvHeads, vocab, context, headDim: explicitHeadDim) is { } shapeError)
            throw new InvalidDataException($"{f.Path}: {shapeError}");
        int headDim = explicitHeadDim ?? dim / heads;
        // Values must be as wide as keys, and RoPE must rotate whole heads; files that say otherwise describe another model.
        foreach (string key in new[] { "llama.attention.value_length", "llama.rope.dimension_count" })
            if (f.GetInteger(key) is long value && value != headDim)
                throw new NotSupportedException($"{f.Path}: metadata '{key}' is {value}, but the head size is {headDim}" +
                    (explicitHeadDim is null ? $" (embedding_length / head_count = {dim} / {heads})" : " ('llama.attention.key_length')") +
                    "; only models whose values and rotary part span the whole head are supported");

        float epsilon = f.GetFloat("llama.attention.layer_norm_rms_epsilon") ?? throw f.Missing("llama.attention.layer_norm_rms_epsilon", "a FLOAT32");
        if (!(epsilon > 0 && epsilon < 1))
            throw f.Invalid("llama.attention.layer_norm_rms_epsilon", $"is {epsilon}; expected a small positive number such as 1e-5");
        float theta = f.GetFloat("llama.rope.freq_base") ?? 10000f;
        if (!(theta > 1 && float.IsFinite(theta)))
            throw f.Invalid("llama.rope.freq_base", $"is {theta}; expected a finite number above 1 such as 10000");

        int bos = f.GetInt32("tokenizer.ggml.bos_token_id", 0, vocab - 1) ?? 1;
        int eos = f.GetInt32("tokenizer.ggml.eos_token_id", 0, vocab - 1) ?? 2;
        // Chat models name their end-of-turn (Llama 3: <|eot_id|>) and end-of-message ids apart from EOS.
        var stops = new List<int>();
        foreach (string key in (ReadOnlySpan<string>)["tokenizer.ggml.eot_token_id", "tokenizer.ggml.eom_token_id"])
            if (f.GetInt32(key, 0, vocab - 1) is int id && id != eos) stops.Add(id);
        return new ModelConfig
        {
            Dim = dim,
            HiddenDim = hidden,
            LayerCount = layers,
            HeadCount = heads,
            KvHeadCount = kvHeads,
            HeadDim = explicitHeadDim ?? 0,
            VocabSize = vocab,
            MaxSequenceLength = context,
            RopeTheta = theta,
            RopeScaling = ReadRopeScaling(f),
            NormEpsilon = epsilon,
            BosId = bos,
            EosId = eos,
            StopIds = new TokenIdList(stops),
        };
    }

    /// <summary><c>llama.attention.key_length</c> when present and not simply <c>embedding_length / head_count</c>.</summary>
    private static int? ExplicitHeadDim(GgufFile f, int dim, int heads)
    {
        if (f.GetInt32("llama.attention.key_length", 1, ModelLimits.MaxDim) is not int keyLength)
            return null;
        return dim % heads == 0 && dim / heads == keyLength ? null : keyLength;
    }

    /// <summary>
    /// Linear RoPE scaling: <c>llama.rope.scaling.type = linear</c> with <c>llama.rope.scaling.factor</c>, or the older
    /// <c>llama.rope.scale_linear</c>.
    /// </summary>
    private static RopeScaling ReadRopeScaling(GgufFile f)
    {
        string key = f.GetString("llama.rope.scaling.type") == "linear" ? "llama.rope.scaling.factor" : "llama.rope.scale_linear";
        if (f.GetFloat(key) is not float factor || factor == 1f)
            return f.GetString("llama.rope.scaling.type") == "linear" ? throw f.Missing(key, "a FLOAT32 above 1") : RopeScaling.None;
        var scaling = new RopeScaling { Kind = RopeScalingKind.Linear, Factor = factor };
        return scaling.Problem() is { } problem ? throw f.Invalid(key, $"is {factor}: {problem}") : scaling;
    }

    /// <summary>llama.vocab_size, else the tokenizer's token count, else the embedding's rows.</summary>
    private static int VocabSize(GgufFile f, int dim)
    {
        if (f.GetInt32("llama.vocab_size", 1, ModelLimits.MaxVocab) is int declared) return declared;
        if (f.Metadata.TryGetValue("tokenizer.ggml.tokens", out object? tokens) && tokens is Array { Length: > 0 } list)
        {
            if (list.Length > ModelLimits.MaxVocab)
                throw f.Invalid("tokenizer.ggml.tokens", $"holds {list.Length} tokens; at most {ModelLimits.MaxVocab} are supported");
            return list.Length;
        }
        GgufTensorInfo? embedding = f.FindTensor(GgufLlamaTensors.TokenEmbedding);
        if (embedding is { Dimensions: [_, long rows] } && rows <= ModelLimits.MaxVocab)
            return (int)rows;
        throw new InvalidDataException($"{f.Path}: the vocabulary size is unknown: there is no metadata 'llama.vocab_size', no " +
            $"'tokenizer.ggml.tokens' and no two-dimensional '{GgufLlamaTensors.TokenEmbedding}' with at most {ModelLimits.MaxVocab} rows " +
            $"of embedding_length {dim}");
    }

    /// <summary>Settings that change the math in ways the forward pass does not implement: refuse rather than compute something else.</summary>
    private static void RejectUnsupportedVariants(GgufFile f)
    {
        if (f.GetString("llama.rope.scaling.type") is { } scaling && scaling is not ("none" or "linear"))
            throw new NotSupportedException($"{f.Path}: llama.rope.scaling.type is '{scaling}'; only linear RoPE scaling is supported.");
        if (f.GetInteger("llama.expert_count") is > 0 and long experts)
            throw new NotSupportedException($"{f.Path}: llama.expert_count is {experts}; mixture-of-experts models are not supported.");
    }
}
