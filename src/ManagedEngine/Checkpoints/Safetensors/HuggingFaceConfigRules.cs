namespace MlPipelines.ManagedEngine.Checkpoints.Safetensors;

/// <summary>
/// Range checks on a <see cref="HuggingFaceConfig"/>, the same bounds the llama2.c reader applies
/// (see <see cref="Llama2cLayout"/>) under the Hugging Face field names, so that a corrupt or hostile
/// configuration fails with a message instead of driving a huge allocation or an overflow.
/// </summary>
internal static class HuggingFaceConfigRules
{
    /// <summary>Null when <paramref name="c"/> is valid, else a message naming the offending field.</summary>
    public static string? Validate(HuggingFaceConfig c)
    {
        int hidden = c.HiddenSize, heads = c.NumAttentionHeads, kv = c.NumKeyValueHeads;
        return Range("hidden_size", hidden, Llama2cLayout.MaxDim)
            ?? Range("intermediate_size", c.IntermediateSize, Llama2cLayout.MaxHiddenDim)
            ?? Range("num_hidden_layers", c.NumHiddenLayers, Llama2cLayout.MaxLayers)
            ?? Range("num_attention_heads", heads, hidden, $"hidden_size = {hidden}")
            ?? (hidden % heads != 0 ? $"num_attention_heads = {heads} does not divide hidden_size = {hidden}" : null)
            ?? Range("num_key_value_heads", kv, heads, $"num_attention_heads = {heads}")
            ?? (heads % kv != 0 ? $"num_key_value_heads = {kv} does not divide num_attention_heads = {heads}" : null)
            ?? (hidden / heads % 2 != 0
                ? $"hidden_size = {hidden} and num_attention_heads = {heads} give an odd head size {hidden / heads}; RoPE rotates pairs, so it must be even"
                : null)
            ?? Range("vocab_size", c.VocabSize, Llama2cLayout.MaxVocab)
            ?? Range("max_position_embeddings", c.MaxPositionEmbeddings, Llama2cLayout.MaxSeqLen)
            // WeightTensor is int-sized, so every single tensor must hold at most int.MaxValue floats.
            ?? TensorSize("vocab_size", c.VocabSize, "hidden_size", hidden, "model.embed_tokens.weight")
            ?? TensorSize("hidden_size", hidden, "hidden_size", hidden, "self_attn.q_proj.weight")
            ?? TensorSize("intermediate_size", c.IntermediateSize, "hidden_size", hidden, "mlp.gate_proj.weight")
            ?? Positive("rms_norm_eps", c.RmsNormEps)
            ?? Positive("rope_theta", c.RopeTheta)
            ?? TokenId("bos_token_id", c.BosTokenId, c.VocabSize)
            ?? TokenId("eos_token_id", c.EosTokenId, c.VocabSize);
    }

    private static string? Range(string field, int value, int max, string? maxName = null)
    {
        if (value >= 1 && value <= max)
            return null;
        if (value < 1)
            return $"{field} = {value} must be positive";
        return maxName is null ? $"{field} = {value} exceeds the supported maximum {max}" : $"{field} = {value} exceeds {maxName}";
    }

    private static string? TensorSize(string fieldA, long a, string fieldB, long b, string tensor)
    {
        long floats = a * b; // both factors are bounded above, so this cannot overflow a long
        return floats <= int.MaxValue ? null
            : $"{fieldA} = {a} and {fieldB} = {b} give {tensor} {floats} elements; at most {int.MaxValue} per tensor are supported";
    }

    private static string? Positive(string field, float value) =>
        float.IsFinite(value) && value > 0 ? null : $"{field} = {value} must be a positive finite number";

    private static string? TokenId(string field, int id, int vocab) =>
        id >= 0 && id < vocab ? null : $"{field} = {id} is outside the vocabulary (0 .. vocab_size - 1 = {vocab - 1})";
}
