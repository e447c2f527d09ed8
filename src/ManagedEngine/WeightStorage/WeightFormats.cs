namespace MlPipelines.ManagedEngine.WeightStorage;

/// <summary>Sizes and activation pairing of each <see cref="WeightFormat"/>.</summary>
internal static class WeightFormats
{
    public static int BlockElements(WeightFormat f) => f switch
    {
        WeightFormat.F32 or WeightFormat.F16 or WeightFormat.BF16 => 1,
        WeightFormat.Q4_K or WeightFormat.Q5_K or WeightFormat.Q6_K => 256,
        _ => 32,
    };

    public static int BlockBytes(WeightFormat f) => f switch
    {
        WeightFormat.F32 => 4,
        WeightFormat.F16 or WeightFormat.BF16 => 2,
        WeightFormat.Q8_0 => 34,
        WeightFormat.Q4_0 => 18,
        WeightFormat.Q4_1 => 20,
        WeightFormat.Q5_0 => 22,
        WeightFormat.Q5_1 => 24,
        WeightFormat.Q4_K => 144,
        WeightFormat.Q5_K => 176,
        WeightFormat.Q6_K => 210,
        _ => throw new ArgumentOutOfRangeException(nameof(f)),
    };

    public static long RowBytes(WeightFormat f, int cols) => (long)cols / BlockElements(f) * BlockBytes(f);

    /// <summary>How the activations are quantised for a block format (as ggml pairs them), or null for float formats.</summary>
    public static ActivationGrouping? Activations(WeightFormat f) => f switch
    {
        WeightFormat.F32 or WeightFormat.F16 or WeightFormat.BF16 => null,
        WeightFormat.Q4_K or WeightFormat.Q5_K or WeightFormat.Q6_K => ActivationGrouping.Block256,
        _ => ActivationGrouping.Block32,
    };

    /// <summary>The format of a GGUF tensor type, or null when the engine has no kernels for it.</summary>
    public static WeightFormat? FromGguf(Formats.Gguf.GgufTensorType type) => type switch
    {
        Formats.Gguf.GgufTensorType.F32 => WeightFormat.F32,
        Formats.Gguf.GgufTensorType.F16 => WeightFormat.F16,
        Formats.Gguf.GgufTensorType.BF16 => WeightFormat.BF16,
        Formats.Gguf.GgufTensorType.Q8_0 => WeightFormat.Q8_0,
        Formats.Gguf.GgufTensorType.Q4_0 => WeightFormat.Q4_0,
        Formats.Gguf.GgufTensorType.Q4_1 => WeightFormat.Q4_1,
        Formats.Gguf.GgufTensorType.Q5_0 => WeightFormat.Q5_0,
        Formats.Gguf.GgufTensorType.Q5_1 => WeightFormat.Q5_1,
        Formats.Gguf.GgufTensorType.Q4_K => WeightFormat.Q4_K,
        Formats.Gguf.GgufTensorType.Q5_K => WeightFormat.Q5_K,
        Formats.Gguf.GgufTensorType.Q6_K => WeightFormat.Q6_K,
        _ => null,
    };
}
