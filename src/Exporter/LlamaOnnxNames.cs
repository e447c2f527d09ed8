using System.Globalization;

namespace MlPipelines.Exporter;

/// <summary>
/// The names of an exported decoder's inputs, outputs and symbolic dimensions — the same as
/// Hugging Face Optimum and onnxruntime-genai use, so the model also runs in their tooling.
/// </summary>
/// <remarks>
/// Inputs: <see cref="InputIds"/> and <see cref="PositionIds"/> int64 <c>[batch, sequence_length]</c>;
/// <see cref="AttentionMask"/> int64 <c>[batch, total_sequence_length]</c> (1 = real token, 0 = padding,
/// covering the past and the new tokens); <see cref="PastKey"/>/<see cref="PastValue"/> float
/// <c>[batch, kv_heads, past_sequence_length, head_dim]</c> per layer (past_sequence_length may be 0).
/// Outputs: <see cref="Logits"/> float <c>[batch, sequence_length, vocab]</c>;
/// <see cref="PresentKey"/>/<see cref="PresentValue"/> float <c>[batch, kv_heads, total_sequence_length, head_dim]</c>
/// (past followed by the new positions: feed them back as the next call's past);
/// <see cref="LastHiddenState"/> float <c>[batch, sequence_length, dim]</c> after the final RMSNorm.
/// </remarks>
public static class LlamaOnnxNames
{
    /// <summary>Token ids, int64 <c>[batch, sequence_length]</c>.</summary>
    public const string InputIds = "input_ids";

    /// <summary>Key mask over past and new positions, int64 <c>[batch, total_sequence_length]</c>.</summary>
    public const string AttentionMask = "attention_mask";

    /// <summary>RoPE position of each new token, int64 <c>[batch, sequence_length]</c>.</summary>
    public const string PositionIds = "position_ids";

    /// <summary>Logits of every new position, float <c>[batch, sequence_length, vocab]</c>.</summary>
    public const string Logits = "logits";

    /// <summary>Final-normed hidden states of every new position, float <c>[batch, sequence_length, dim]</c>.</summary>
    public const string LastHiddenState = "last_hidden_state";

    /// <summary>Symbolic batch dimension.</summary>
    public const string BatchDim = "batch";

    /// <summary>Symbolic dimension of the new tokens.</summary>
    public const string SequenceDim = "sequence_length";

    /// <summary>Symbolic dimension of the cached positions.</summary>
    public const string PastSequenceDim = "past_sequence_length";

    /// <summary>Symbolic dimension of past plus new positions.</summary>
    public const string TotalSequenceDim = "total_sequence_length";

    /// <summary>Cached keys of layer <paramref name="layer"/>: <c>past_key_values.{layer}.key</c>.</summary>
    public static string PastKey(int layer) => string.Create(CultureInfo.InvariantCulture, $"past_key_values.{layer}.key");

    /// <summary>Cached values of layer <paramref name="layer"/>: <c>past_key_values.{layer}.value</c>.</summary>
    public static string PastValue(int layer) => string.Create(CultureInfo.InvariantCulture, $"past_key_values.{layer}.value");

    /// <summary>Keys after this call for layer <paramref name="layer"/>: <c>present.{layer}.key</c>.</summary>
    public static string PresentKey(int layer) => string.Create(CultureInfo.InvariantCulture, $"present.{layer}.key");

    /// <summary>Values after this call for layer <paramref name="layer"/>: <c>present.{layer}.value</c>.</summary>
    public static string PresentValue(int layer) => string.Create(CultureInfo.InvariantCulture, $"present.{layer}.value");
}
