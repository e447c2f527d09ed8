namespace MlPipelines.ManagedEngine.Formats.Gguf;

/// <summary>What a written GGUF file stores its matrices in, as llama.cpp's file types name it.</summary>
public enum GgufQuantization
{
    /// <summary>Every matrix fp32.</summary>
    F32,
    /// <summary>Every matrix fp16.</summary>
    F16,
    /// <summary>Every matrix bf16.</summary>
    BF16,
    /// <summary>Every matrix Q8_0.</summary>
    Q8_0,
    /// <summary>Q4_0 matrices, the classifier Q6_K (llama.cpp's <c>Q4_0</c>).</summary>
    Q4_0,
    /// <summary>
    /// Q4_K matrices; Q6_K for the classifier and for attn_v and ffn_down in a third of the layers (llama.cpp's
    /// <c>Q4_K_M</c>).
    /// </summary>
    Q4_K_M,
}

/// <summary>
/// Which ggml type each tensor of a llama model gets under a <see cref="GgufQuantization"/>, following llama.cpp's
/// <c>llama_tensor_get_type</c> for the llama architecture, so that a file written here has the same tensor types as
/// one llama.cpp's quantize tool writes: the classifier (or a tied embedding) Q6_K in the 4-bit types; Q4_K_M's
/// "more bits" layers (the first and last eighth, and every third in between) with Q6_K attn_v and ffn_down; a
/// k-quant whose rows are not whole blocks of 256 falls back to Q5_0 (Q4_K) or Q8_0 (Q6_K), as llama.cpp does.
/// </summary>
internal static class GgufQuantizationPlan
{
    /// <summary>llama.cpp's <c>general.file_type</c> for the preset.</summary>
    public static uint FileType(GgufQuantization q) => q switch
    {
        GgufQuantization.F32 => 0, GgufQuantization.F16 => 1, GgufQuantization.Q4_0 => 2, GgufQuantization.Q8_0 => 7,
        GgufQuantization.Q4_K_M => 15, GgufQuantization.BF16 => 32, _ => throw new ArgumentOutOfRangeException(nameof(q)),
    };

    /// <summary>The type of a matrix tensor named <paramref name="name"/> (llama.cpp's names) with rows of <paramref name="cols"/>.</summary>
    /// <param name="q">The preset.</param>
    /// <param name="name">The tensor's name (token_embd.weight, blk.N.attn_v.weight, output.weight...).</param>
    /// <param name="layerCount">The model's layers.</param>
    /// <param name="cols">Values per row.</param>
    /// <param name="hasOutput">Whether the file has its own output.weight (else the embedding is the classifier).</param>
    /// <param name="pure">Every matrix in the preset's base type, as llama.cpp's <c>--pure</c>: no Q6_K classifier, no
    /// more bits for some layers' v and down matrices.</param>
    public static GgufTensorType TypeFor(GgufQuantization q, string name, int layerCount, int cols, bool hasOutput, bool pure = false)
    {
        GgufTensorType type = q switch
        {
            GgufQuantization.F32 => GgufTensorType.F32,
            GgufQuantization.F16 => GgufTensorType.F16,
            GgufQuantization.BF16 => GgufTensorType.BF16,
            GgufQuantization.Q8_0 => GgufTensorType.Q8_0,
            GgufQuantization.Q4_0 => GgufTensorType.Q4_0,
            _ => GgufTensorType.Q4_K,
        };
        if (!pure && q is GgufQuantization.Q4_0 or GgufQuantization.Q4_K_M)
        {
            bool classifier = name == GgufLlamaTensors.Output || (!hasOutput && name == GgufLlamaTensors.TokenEmbedding);
            if (classifier)
                return cols % 256 != 0 ? GgufTensorType.Q8_0 : GgufTensorType.Q6_K;
            if (q == GgufQuantization.Q4_K_M && Layer(name) is int layer
                && (name.EndsWith(".attn_v.weight", StringComparison.Ordinal) || name.EndsWith(".ffn_down.weight", StringComparison.Ordinal))
                && UseMoreBits(layer, layerCount))
                type = GgufTensorType.Q6_K;
        }
        return Fallback(type, cols);
    }

    /// <summary>llama.cpp's choice of layers that get more bits: the first and last eighth, and every third between.</summary>
    public static bool UseMoreBits(int layer, int layers) =>
        layer < layers / 8 || layer >= 7 * layers / 8 || (layer - layers / 8) % 3 == 2;

    private static GgufTensorType Fallback(GgufTensorType type, int cols)
    {
        int block = type switch
        {
            GgufTensorType.Q4_K or GgufTensorType.Q5_K or GgufTensorType.Q6_K => 256,
            GgufTensorType.Q4_0 or GgufTensorType.Q5_0 or GgufTensorType.Q8_0 => 32,
            _ => 1,
        };
        if (cols % block == 0) return type;
        GgufTensorType fallback = type switch
        {
            GgufTensorType.Q4_K => GgufTensorType.Q5_0,
            GgufTensorType.Q5_K => GgufTensorType.Q5_1,
            GgufTensorType.Q6_K => GgufTensorType.Q8_0,
            _ => GgufTensorType.F16,
        };
        return cols % 32 == 0 || fallback == GgufTensorType.F16 ? fallback : GgufTensorType.F16;
    }

    private static int? Layer(string name) =>
        name.StartsWith("blk.", StringComparison.Ordinal) && int.TryParse(name.AsSpan(4, name.IndexOf('.', 4) - 4), out int layer) ? layer : null;
}
