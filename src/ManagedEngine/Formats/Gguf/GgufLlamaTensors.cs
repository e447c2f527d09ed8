using MlPipelines.ManagedEngine.Model;

namespace MlPipelines.ManagedEngine.Formats.Gguf;

/// <summary>
/// The tensors of a llama GGUF file (llama.cpp's names) and the shapes a configuration implies,
/// checked all at once before any weight is converted, so a wrong file fails before it costs memory.
/// </summary>
/// <remarks>
/// ggml lists dimensions innermost first, so a row-major <c>[out, in]</c> matrix (y = W x, the
/// engine's layout) has <c>ne = [in, out]</c> and its bytes are already in the engine's order.
/// llama.cpp's converter stores attn_q/attn_k rows in Meta's interleaved order (it undoes the
/// Hugging Face permutation when converting), which is the adjacent-pair RoPE convention this
/// engine uses, so no rows are permuted here.
/// </remarks>
internal sealed class GgufLlamaTensors
{
    public const string TokenEmbedding = "token_embd.weight";
    public const string OutputNorm = "output_norm.weight";
    public const string Output = "output.weight";
    public const string RopeFrequencies = "rope_freqs.weight";

    private GgufLlamaTensors(GgufTensorInfo embedding, GgufTensorInfo outputNorm, GgufTensorInfo? output, GgufTensorInfo? ropeFrequencies,
        LayerTensors[] layers)
    {
        Embedding = embedding;
        RopeFrequencyFactors = ropeFrequencies;
        OutputNormWeight = outputNorm;
        OutputWeight = output;
        Layers = layers;
    }

    public GgufTensorInfo Embedding { get; }
    public GgufTensorInfo OutputNormWeight { get; }
    /// <summary>The classifier, or null when it is tied to the embedding.</summary>
    public GgufTensorInfo? OutputWeight { get; }
    public IReadOnlyList<LayerTensors> Layers { get; }
    /// <summary>One divisor per RoPE frequency (llama.cpp's form of Llama 3.1's scaling), or null.</summary>
    public GgufTensorInfo? RopeFrequencyFactors { get; }

    /// <summary>One block's tensors, named by the engine's fields.</summary>
    public sealed record LayerTensors(GgufTensorInfo RmsAttention, GgufTensorInfo Wq, GgufTensorInfo Wk, GgufTensorInfo Wv,
        GgufTensorInfo Wo, GgufTensorInfo RmsFfn, GgufTensorInfo W1, GgufTensorInfo W2, GgufTensorInfo W3);

    /// <summary>Finds every tensor the configuration needs and checks its shape and type.</summary>
    /// <exception cref="InvalidDataException">A tensor is missing or has the wrong shape; the message names it.</exception>
    /// <exception cref="NotSupportedException">A tensor's type cannot be converted, or the file holds tensors this model has no place for.</exception>
    public static GgufLlamaTensors Find(GgufFile file, ModelConfig c)
    {
        var used = new HashSet<string>(StringComparer.Ordinal);
        string describe = $"embedding_length {c.Dim}, feed_forward_length {c.HiddenDim}, head_count {c.HeadCount}, " +
            $"head_count_kv {c.KvHeadCount}, " + (c.HasExplicitHeadDim ? $"key_length {c.HeadDim}, " : "") + $"vocabulary {c.VocabSize}";

        GgufTensorInfo Get(string name, string meaning, long inner, long outer = 1) =>
            Find(file, name, meaning, describe, used, inner, outer) ?? throw new InvalidDataException(
                $"{file.Path}: tensor '{name}' ({meaning}) is missing; a llama model with block_count = {c.LayerCount} needs it " +
                $"(expected {Shape(inner, outer)})");

        int d = c.Dim, q = c.QueryDim, kv = c.KvDim, h = c.HiddenDim;
        var embedding = Get(TokenEmbedding, "token embedding [vocab, dim]", d, c.VocabSize);
        var layers = new LayerTensors[c.LayerCount];
        for (int i = 0; i < layers.Length; i++)
        {
            string p = $"blk.{i}.";
            layers[i] = new LayerTensors(
                RmsAttention: Get(p + "attn_norm.weight", "attention RMSNorm [dim]", d),
                Wq: Get(p + "attn_q.weight", "query projection [heads * head_dim, dim]", d, q),
                Wk: Get(p + "attn_k.weight", "key projection [kv_dim, dim]", d, kv),
                Wv: Get(p + "attn_v.weight", "value projection [kv_dim, dim]", d, kv),
                Wo: Get(p + "attn_output.weight", "attention output [dim, heads * head_dim]", q, d),
                RmsFfn: Get(p + "ffn_norm.weight", "feed-forward RMSNorm [dim]", d),
                W1: Get(p + "ffn_gate.weight", "feed-forward gate w1 [hidden, dim]", d, h),
                W2: Get(p + "ffn_down.weight", "feed-forward down w2 [dim, hidden]", h, d),
                W3: Get(p + "ffn_up.weight", "feed-forward up w3 [hidden, dim]", d, h));
        }
        var outputNorm = Get(OutputNorm, "final RMSNorm [dim]", d);
        var output = Find(file, Output, "classifier [vocab, dim]", describe, used, d, c.VocabSize);
        var ropeFrequencies = Find(file, RopeFrequencies, "RoPE frequency factors [head_dim / 2]", describe, used, c.HeadDim / 2, 1);

        if (file.Tensors.FirstOrDefault(t => !used.Contains(t.Name)) is { } extra)
            throw new NotSupportedException($"{file.Path}: tensor '{extra.Name}' ({extra.Shape}) has no place in a llama model with " +
                $"block_count = {c.LayerCount}; files with extra tensors (biases, more layers) are not supported.");
        return new GgufLlamaTensors(embedding, outputNorm, output, ropeFrequencies, layers);
    }

    private static GgufTensorInfo? Find(GgufFile file, string name, string meaning, string describe, HashSet<string> used, long inner, long outer)
    {
        GgufTensorInfo? t = file.FindTensor(name);
        if (t is null) return null;
        used.Add(name);
        if (!SameShape(t.Dimensions, inner, outer))
            throw new InvalidDataException($"{file.Path}: tensor '{name}' ({meaning}) has {t.Shape}; the configuration ({describe}) " +
                $"implies {Shape(inner, outer)}");
        if (WeightStorage.WeightFormats.FromGguf(t.Type) is not { } format)
            throw new NotSupportedException($"{file.Path}: tensor '{name}' is stored as {t.Type}; supported are F32, F16, BF16, Q8_0, Q4_0, " +
                "Q4_1, Q5_0, Q5_1, Q4_K, Q5_K and Q6_K.");
        if (t.Dimensions[0] % WeightStorage.WeightFormats.BlockElements(format) != 0)
            throw new InvalidDataException($"{file.Path}: tensor '{name}' has rows of {t.Dimensions[0]} values, not whole {t.Type} blocks.");
        if (t.ElementCount > int.MaxValue)
            throw new NotSupportedException($"{file.Path}: tensor '{name}' has {t.ElementCount} elements; at most {int.MaxValue} per tensor are supported.");
        return t;
    }

    /// <summary>Equal up to trailing dimensions of 1 (ggml drops them; a writer may keep them).</summary>
    private static bool SameShape(IReadOnlyList<long> ne, long inner, long outer)
    {
        int n = ne.Count;
        while (n > 1 && ne[n - 1] == 1) n--;
        return outer == 1 ? n == 1 && ne[0] == inner : n == 2 && ne[0] == inner && ne[1] == outer;
    }

    private static string Shape(long inner, long outer) => outer == 1 ? $"ne = [{inner}]" : $"ne = [{inner}, {outer}]";
}
