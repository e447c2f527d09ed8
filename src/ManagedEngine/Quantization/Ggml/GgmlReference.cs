using MlPipelines.ManagedEngine.Formats.Gguf;

namespace MlPipelines.ManagedEngine.Quantization.Ggml;

/// <summary>
/// Scalar reference implementations of ggml's block formats, selected by GGUF type: quantisation equal byte for
/// byte to ggml's <c>quantize_row_*_ref</c> (no importance matrix), dequantisation equal bit for bit to its
/// <c>dequantize_row_*</c>, and dot products equal bit for bit to ggml-cpu's generic (non-SIMD)
/// <c>ggml_vec_dot_*</c>. They are the yardstick for fast kernels and the quantisers for writing GGUF files;
/// they favour clarity over speed.
/// </summary>
/// <remarks>
/// Weight formats: Q4_0, Q4_1, Q5_0, Q5_1, Q8_0 (blocks of 32) and Q2_K, Q3_K, Q4_K, Q5_K, Q6_K (super-blocks
/// of 256). A dot product multiplies a weight row with an activation row quantised to the weight's
/// <see cref="ActivationType"/>, as ggml-cpu does. Byte equality is for finite inputs whose block scales stay
/// within fp32 and fp16 range (the reciprocal of a scale overflows below about 1e−37 in a whole block); outside
/// that ggml's C converts infinities to integers, which C leaves undefined.
/// </remarks>
internal static class GgmlReference
{
    /// <summary>The weight formats implemented here.</summary>
    public static IReadOnlyList<GgufTensorType> WeightTypes { get; } =
    [
        GgufTensorType.Q4_0, GgufTensorType.Q4_1, GgufTensorType.Q5_0, GgufTensorType.Q5_1, GgufTensorType.Q8_0,
        GgufTensorType.Q2_K, GgufTensorType.Q3_K, GgufTensorType.Q4_K, GgufTensorType.Q5_K, GgufTensorType.Q6_K,
    ];

    /// <summary>
    /// The format ggml-cpu quantises activations to before multiplying them with <paramref name="weightType"/>
    /// (its <c>vec_dot_type</c>): Q8_0 for Q4_0, Q5_0 and Q8_0; Q8_1 for Q4_1 and Q5_1 (whose offsets need the
    /// activation sums); Q8_K for every k-quant.
    /// </summary>
    public static GgufTensorType ActivationType(GgufTensorType weightType) => weightType switch
    {
        GgufTensorType.Q4_0 or GgufTensorType.Q5_0 or GgufTensorType.Q8_0 => GgufTensorType.Q8_0,
        GgufTensorType.Q4_1 or GgufTensorType.Q5_1 => GgufTensorType.Q8_1,
        GgufTensorType.Q2_K or GgufTensorType.Q3_K or GgufTensorType.Q4_K or GgufTensorType.Q5_K or GgufTensorType.Q6_K => GgufTensorType.Q8_K,
        _ => throw Unsupported(weightType),
    };

    /// <summary>
    /// Quantises <paramref name="x"/> (whole blocks of <paramref name="type"/>) into <paramref name="blocks"/>,
    /// as ggml's reference quantiser; any weight format or activation format (Q8_1, Q8_K).
    /// </summary>
    public static void Quantize(GgufTensorType type, ReadOnlySpan<float> x, Span<byte> blocks)
    {
        switch (type)
        {
            case GgufTensorType.Q4_0: Q4_0.Quantize(x, blocks); break;
            case GgufTensorType.Q4_1: Q4_1.Quantize(x, blocks); break;
            case GgufTensorType.Q5_0: Q5_0.Quantize(x, blocks); break;
            case GgufTensorType.Q5_1: Q5_1.Quantize(x, blocks); break;
            case GgufTensorType.Q8_0: Q8_0.Quantize(x, blocks); break;
            case GgufTensorType.Q8_1: Q8_1.Quantize(x, blocks); break;
            case GgufTensorType.Q2_K: Q2_K.Quantize(x, blocks); break;
            case GgufTensorType.Q3_K: Q3_K.Quantize(x, blocks); break;
            case GgufTensorType.Q4_K: Q4_K.Quantize(x, blocks); break;
            case GgufTensorType.Q5_K: Q5_K.Quantize(x, blocks); break;
            case GgufTensorType.Q6_K: Q6_K.Quantize(x, blocks); break;
            case GgufTensorType.Q8_K: Q8_K.Quantize(x, blocks); break;
            default: throw Unsupported(type);
        }
    }

    /// <summary>Decodes weight-format <paramref name="blocks"/> into <paramref name="y"/>, bit for bit as ggml.</summary>
    public static void Dequantize(GgufTensorType type, ReadOnlySpan<byte> blocks, Span<float> y)
    {
        switch (type)
        {
            case GgufTensorType.Q4_0: Q4_0.Dequantize(blocks, y); break;
            case GgufTensorType.Q4_1: Q4_1.Dequantize(blocks, y); break;
            case GgufTensorType.Q5_0: Q5_0.Dequantize(blocks, y); break;
            case GgufTensorType.Q5_1: Q5_1.Dequantize(blocks, y); break;
            case GgufTensorType.Q8_0: Q8_0.Dequantize(blocks, y); break;
            case GgufTensorType.Q2_K: Q2_K.Dequantize(blocks, y); break;
            case GgufTensorType.Q3_K: Q3_K.Dequantize(blocks, y); break;
            case GgufTensorType.Q4_K: Q4_K.Dequantize(blocks, y); break;
            case GgufTensorType.Q5_K: Q5_K.Dequantize(blocks, y); break;
            case GgufTensorType.Q6_K: Q6_K.Dequantize(blocks, y); break;
            default: throw Unsupported(type);
        }
    }

    /// <summary>Quantises activations <paramref name="x"/> to the format <paramref name="weightType"/> is multiplied with.</summary>
    public static void QuantizeActivations(GgufTensorType weightType, ReadOnlySpan<float> x, Span<byte> blocks) =>
        Quantize(ActivationType(weightType), x, blocks);

    /// <summary>
    /// The dot product of <paramref name="n"/> values: a row of <paramref name="weightType"/> blocks with a row of
    /// activations in <see cref="ActivationType"/>, with the fp32 operations of ggml-cpu's generic code in its
    /// order (so bit for bit its result).
    /// </summary>
    public static float Dot(GgufTensorType weightType, ReadOnlySpan<byte> weightRow, ReadOnlySpan<byte> activationRow, int n) => weightType switch
    {
        GgufTensorType.Q4_0 => Q4_0.Dot(weightRow, activationRow, n),
        GgufTensorType.Q4_1 => Q4_1.Dot(weightRow, activationRow, n),
        GgufTensorType.Q5_0 => Q5_0.Dot(weightRow, activationRow, n),
        GgufTensorType.Q5_1 => Q5_1.Dot(weightRow, activationRow, n),
        GgufTensorType.Q8_0 => Q8_0.Dot(weightRow, activationRow, n),
        GgufTensorType.Q2_K => Q2_K.Dot(weightRow, activationRow, n),
        GgufTensorType.Q3_K => Q3_K.Dot(weightRow, activationRow, n),
        GgufTensorType.Q4_K => Q4_K.Dot(weightRow, activationRow, n),
        GgufTensorType.Q5_K => Q5_K.Dot(weightRow, activationRow, n),
        GgufTensorType.Q6_K => Q6_K.Dot(weightRow, activationRow, n),
        _ => throw Unsupported(weightType),
    };

    private static NotSupportedException Unsupported(GgufTensorType type) =>
        new($"No ggml reference implementation for {type}.");
}
