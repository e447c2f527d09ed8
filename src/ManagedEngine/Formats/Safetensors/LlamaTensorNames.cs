namespace MlPipelines.ManagedEngine.Formats.Safetensors;

/// <summary>
/// The tensor names of transformers' <c>LlamaForCausalLM</c> and the internal (llama2.c) weight each
/// one becomes. Hugging Face calls the SwiGLU matrices gate/up/down; llama2.c calls them w1/w3/w2.
/// </summary>
internal static class LlamaTensorNames
{
    public const string Embedding = "model.embed_tokens.weight";
    public const string FinalNorm = "model.norm.weight";
    public const string Classifier = "lm_head.weight";
    public const string LayerPrefix = "model.layers.";

    public const string AttentionNorm = "input_layernorm.weight";
    public const string Query = "self_attn.q_proj.weight";
    public const string Key = "self_attn.k_proj.weight";
    public const string Value = "self_attn.v_proj.weight";
    public const string Output = "self_attn.o_proj.weight";
    public const string FfnNorm = "post_attention_layernorm.weight";
    /// <summary>llama2.c's w1.</summary>
    public const string Gate = "mlp.gate_proj.weight";
    /// <summary>llama2.c's w2.</summary>
    public const string Down = "mlp.down_proj.weight";
    /// <summary>llama2.c's w3.</summary>
    public const string Up = "mlp.up_proj.weight";

    /// <summary>The full name of a layer tensor, e.g. <c>model.layers.3.mlp.up_proj.weight</c>.</summary>
    public static string Layer(int layer, string suffix) => $"{LayerPrefix}{layer}.{suffix}";

    /// <summary>The layer index in a <c>model.layers.{i}.…</c> name, or null for other names.</summary>
    public static int? LayerIndex(string name)
    {
        if (!name.StartsWith(LayerPrefix, StringComparison.Ordinal))
            return null;
        ReadOnlySpan<char> rest = name.AsSpan(LayerPrefix.Length);
        int dot = rest.IndexOf('.');
        return dot > 0 && int.TryParse(rest[..dot], System.Globalization.NumberStyles.None,
            System.Globalization.CultureInfo.InvariantCulture, out int layer) ? layer : null;
    }
}
