using System.Text.Json;
using MlPipelines.ManagedEngine.Model;

namespace MlPipelines.ManagedEngine.Formats.Safetensors;

/// <summary>
/// The fields of a Hugging Face <c>config.json</c> that a Llama model (<c>LlamaForCausalLM</c>)
/// needs, validated. Fields absent from the file take the defaults of transformers' <c>LlamaConfig</c>,
/// except the shape fields, which are required because a default shape would only produce
/// confusing tensor-shape errors later.
/// </summary>
public sealed record HuggingFaceConfig
{
    /// <summary>The largest config.json accepted (real ones are a few kilobytes).</summary>
    private const long MaxFileBytes = 1 << 20;

    /// <summary><c>hidden_size</c>: width of the residual stream.</summary>
    public required int HiddenSize { get; init; }

    /// <summary><c>intermediate_size</c>: width of the SwiGLU feed-forward layer.</summary>
    public required int IntermediateSize { get; init; }

    /// <summary><c>num_hidden_layers</c>: number of transformer blocks.</summary>
    public required int NumHiddenLayers { get; init; }

    /// <summary><c>num_attention_heads</c>: number of query heads.</summary>
    public required int NumAttentionHeads { get; init; }

    /// <summary><c>num_key_value_heads</c>: number of key/value heads (default: <see cref="NumAttentionHeads"/>).</summary>
    public required int NumKeyValueHeads { get; init; }

    /// <summary>
    /// <c>head_dim</c>: width of one attention head when the file gives it explicitly (it may differ from
    /// <c>hidden_size / num_attention_heads</c>); null derives it.
    /// </summary>
    public int? HeadDim { get; init; }

    /// <summary>The head width in effect: <see cref="HeadDim"/> or <c>hidden_size / num_attention_heads</c>.</summary>
    public int EffectiveHeadDim => HeadDim ?? HiddenSize / NumAttentionHeads;

    /// <summary><c>vocab_size</c>: rows of the embedding and of the classifier.</summary>
    public required int VocabSize { get; init; }

    /// <summary><c>max_position_embeddings</c>: the context length (default 2048).</summary>
    public int MaxPositionEmbeddings { get; init; } = 2048;

    /// <summary><c>rms_norm_eps</c>: RMSNorm epsilon (default 1e-6).</summary>
    public float RmsNormEps { get; init; } = 1e-6f;

    /// <summary><c>rope_theta</c>: RoPE base frequency (default 10000).</summary>
    public float RopeTheta { get; init; } = 10000f;

    /// <summary><c>rope_scaling</c>: <c>llama3</c> or <c>linear</c> (default: none).</summary>
    public RopeScaling RopeScaling { get; init; } = RopeScaling.None;

    /// <summary><c>tie_word_embeddings</c>: the classifier is the embedding table (default false).</summary>
    public bool TieWordEmbeddings { get; init; }

    /// <summary><c>bos_token_id</c> (default 1).</summary>
    public int BosTokenId { get; init; } = 1;

    /// <summary><c>eos_token_id</c>, the first one when the file lists several (default 2).</summary>
    public int EosTokenId { get; init; } = 2;

    /// <summary>
    /// The other ids that end a sequence: the rest of a list-valued <c>eos_token_id</c> and the
    /// <c>eos_token_id</c>(s) of <c>generation_config.json</c> beside the file.
    /// </summary>
    public IReadOnlyList<int> OtherEosTokenIds { get; init; } = [];

    /// <summary>The engine's configuration; <see cref="ModelConfig.SharedClassifier"/> follows <see cref="TieWordEmbeddings"/>.</summary>
    public ModelConfig ToModelConfig() => new()
    {
        Dim = HiddenSize,
        HiddenDim = IntermediateSize,
        LayerCount = NumHiddenLayers,
        HeadCount = NumAttentionHeads,
        KvHeadCount = NumKeyValueHeads,
        HeadDim = HeadDim ?? 0,
        VocabSize = VocabSize,
        MaxSequenceLength = MaxPositionEmbeddings,
        SharedClassifier = TieWordEmbeddings,
        RopeTheta = RopeTheta,
        RopeScaling = RopeScaling,
        NormEpsilon = RmsNormEps,
        BosId = BosTokenId,
        EosId = EosTokenId,
        StopIds = new TokenIdList(OtherEosTokenIds.Where(id => id != EosTokenId)),
    };

    /// <summary>Reads and validates a config.json file.</summary>
    /// <exception cref="InvalidDataException">The file is malformed or describes an impossible shape; the message names the field.</exception>
    /// <exception cref="NotSupportedException">The file describes a model this engine does not compute (another architecture, RoPE scaling other than llama3 or linear, biases, another activation).</exception>
    public static HuggingFaceConfig Load(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        using JsonDocument document = SmallJsonFile.ReadObject(path, MaxFileBytes, "a Hugging Face model configuration");
        var fields = new ConfigFields(document.RootElement, path);
        CheckSupported(fields);

        int heads = fields.Int("num_attention_heads");
        var config = new HuggingFaceConfig
        {
            HiddenSize = fields.Int("hidden_size"),
            IntermediateSize = fields.Int("intermediate_size"),
            NumHiddenLayers = fields.Int("num_hidden_layers"),
            NumAttentionHeads = heads,
            NumKeyValueHeads = fields.Int("num_key_value_heads", heads),
            HeadDim = ExplicitHeadDim(fields, heads),
            VocabSize = fields.Int("vocab_size"),
            MaxPositionEmbeddings = fields.Int("max_position_embeddings", 2048),
            RmsNormEps = fields.Float("rms_norm_eps", 1e-6f),
            RopeTheta = fields.Float("rope_theta", 10000f),
            RopeScaling = ReadRopeScaling(fields),
            TieWordEmbeddings = fields.Bool("tie_word_embeddings", false),
            BosTokenId = fields.TokenId("bos_token_id", 1),
            EosTokenId = fields.TokenId("eos_token_id", 2),
            OtherEosTokenIds = [.. fields.TokenIds("eos_token_id").Skip(1), .. GenerationConfigEosIds(path)],
        };
        string? error = HuggingFaceConfigRules.Validate(config);
        if (error is not null)
            throw new InvalidDataException($"{path}: {error}");
        return config;
    }

    /// <summary>
    /// <c>head_dim</c> when present and not simply <c>hidden_size / num_attention_heads</c> (many files state the derived
    /// value; keeping those implicit keeps the heads-divide-the-width check meaningful for them).
    /// </summary>
    private static int? ExplicitHeadDim(ConfigFields fields, int heads)
    {
        if (fields.OptionalInt("head_dim") is not int headDim)
            return null;
        int hidden = fields.Int("hidden_size");
        return heads > 0 && hidden % heads == 0 && hidden / heads == headDim ? null : headDim;
    }

    /// <summary>The <c>eos_token_id</c>(s) of <c>generation_config.json</c> beside <paramref name="configPath"/>, if it exists.</summary>
    private static IReadOnlyList<int> GenerationConfigEosIds(string configPath) =>
        HuggingFaceGenerationConfig.Load(System.IO.Path.GetDirectoryName(System.IO.Path.GetFullPath(configPath))!)?.EosTokenIds ?? [];

    /// <summary>The generation settings file Hugging Face keeps beside config.json.</summary>
    public const string GenerationConfigFileName = HuggingFaceGenerationConfig.FileName;

    /// <summary>
    /// <c>rope_scaling</c>: null or <c>rope_type</c> (older files: <c>type</c>) <c>default</c> is plain RoPE; <c>linear</c>
    /// needs <c>factor</c>; <c>llama3</c> needs <c>factor</c>, <c>low_freq_factor</c>, <c>high_freq_factor</c> and
    /// <c>original_max_position_embeddings</c>. Other schemes (dynamic, yarn, longrope, ...) change the forward pass in
    /// ways this engine does not compute.
    /// </summary>
    private static RopeScaling ReadRopeScaling(ConfigFields fields)
    {
        if (fields.OptionalObject("rope_scaling") is not ConfigFields scaling)
            return RopeScaling.None;
        string type = scaling.OptionalString("rope_type") ?? scaling.OptionalString("type")
            ?? throw new InvalidDataException($"{fields.Path}: rope_scaling = {fields.Raw("rope_scaling")} names no rope_type; expected \"llama3\" or \"linear\"");
        float Required(string name) => scaling.Has(name) ? scaling.Float(name, 0f)
            : throw new InvalidDataException($"{scaling.Path}: {name} is missing; rope_type \"{type}\" needs it");
        RopeScaling result = type switch
        {
            "default" => RopeScaling.None,
            "linear" => new RopeScaling { Kind = RopeScalingKind.Linear, Factor = Required("factor") },
            "llama3" => new RopeScaling
            {
                Kind = RopeScalingKind.Llama3,
                Factor = Required("factor"),
                LowFrequencyFactor = Required("low_freq_factor"),
                HighFrequencyFactor = Required("high_freq_factor"),
                OriginalMaxPositions = scaling.Has("original_max_position_embeddings") ? scaling.Int("original_max_position_embeddings")
                    : throw new InvalidDataException($"{scaling.Path}: original_max_position_embeddings is missing; rope_type \"llama3\" needs it"),
            },
            _ => throw new NotSupportedException($"{fields.Path}: rope_scaling = {fields.Raw("rope_scaling")}; RoPE scaling \"{type}\" is not " +
                "supported (supported: \"llama3\", \"linear\", or none)"),
        };
        return result.Problem() is { } problem ? throw new InvalidDataException($"{scaling.Path}: {problem}") : result;
    }

    /// <summary>Rejects well-formed configurations of models whose forward pass differs from this engine's.</summary>
    private static void CheckSupported(ConfigFields fields)
    {
        string path = fields.Path;
        string? modelType = fields.OptionalString("model_type");
        if (modelType is null)
        {
            IReadOnlyList<string> architectures = fields.StringArray("architectures");
            if (!architectures.Contains("LlamaForCausalLM") && !architectures.Contains("MistralForCausalLM"))
                throw new InvalidDataException($"{path}: neither model_type \"llama\" nor architectures [\"LlamaForCausalLM\"] is present; " +
                    "expected a Hugging Face Llama model configuration");
        }
        else if (modelType is not ("llama" or "mistral"))
        {
            throw new NotSupportedException($"{path}: model_type = \"{modelType}\"; only Llama-architecture models (model_type \"llama\" " +
                "or \"mistral\") are supported");
        }
        // Mistral is Llama's forward pass plus sliding-window attention; a window at least as long as the context (or
        // none) never hides a position, so the computation is the same.
        if (fields.OptionalInt("sliding_window") is int window && window < fields.Int("max_position_embeddings", 2048))
            throw new NotSupportedException($"{path}: sliding_window = {window} is shorter than max_position_embeddings = " +
                $"{fields.Int("max_position_embeddings", 2048)}; sliding-window attention is not supported (a window of null, or one at " +
                "least as long as the context, is)");

        string act = fields.OptionalString("hidden_act") ?? "silu";
        if (act != "silu")
            throw new NotSupportedException($"{path}: hidden_act = \"{act}\"; only \"silu\" (SwiGLU) is supported");
        foreach (string bias in (ReadOnlySpan<string>)["attention_bias", "mlp_bias"])
            if (fields.Bool(bias, false))
                throw new NotSupportedException($"{path}: {bias} = true; projections with biases are not supported");
    }
}
