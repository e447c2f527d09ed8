using MlPipelines.ManagedEngine.Formats.Llama2c;
using MlPipelines.ManagedEngine.Model;
namespace MlPipelines.ManagedEngine.Formats.Safetensors;

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
        return ShapeRules.Validate(FieldNames, c.HiddenSize, c.IntermediateSize, c.NumHiddenLayers, c.NumAttentionHeads,
                c.NumKeyValueHeads, c.VocabSize, c.MaxPositionEmbeddings, headDim: c.HeadDim)
            ?? Positive("rms_norm_eps", c.RmsNormEps)
            ?? Positive("rope_theta", c.RopeTheta)
            ?? TokenId("bos_token_id", c.BosTokenId, c.VocabSize)
            ?? TokenId("eos_token_id", c.EosTokenId, c.VocabSize)
            ?? c.OtherEosTokenIds.Select(id => TokenId("eos_token_id", id, c.VocabSize)).FirstOrDefault(e => e is not null);
    }

    private static readonly ShapeFieldNames FieldNames = new("", "hidden_size", "intermediate_size", "num_hidden_layers",
        "num_attention_heads", "num_key_value_heads", "vocab_size", "max_position_embeddings",
        "model.embed_tokens.weight", "self_attn.q_proj.weight", "mlp.gate_proj.weight", "head_dim");

    private static string? Positive(string field, float value) =>
        float.IsFinite(value) && value > 0 ? null : $"{field} = {value} must be a positive finite number";

    private static string? TokenId(string field, int id, int vocab) =>
        id >= 0 && id < vocab ? null : $"{field} = {id} is outside the vocabulary (0 .. vocab_size - 1 = {vocab - 1})";
}
