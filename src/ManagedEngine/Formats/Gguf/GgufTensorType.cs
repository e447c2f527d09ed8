namespace MlPipelines.ManagedEngine.Formats.Gguf;

/// <summary>
/// ggml tensor types, with the numbers GGUF files store (ggml.h's <c>ggml_type</c>). Numbers
/// 4, 5 and 31–33, 36–38 belonged to layouts ggml has since removed and are not listed.
/// </summary>
/// <remarks>
/// The reader knows the storage size of every listed type, so it can validate any GGUF file;
/// the LLaMA loader converts only <see cref="F32"/>, <see cref="F16"/>, <see cref="BF16"/> and <see cref="Q8_0"/>.
/// </remarks>
public enum GgufTensorType
{
    /// <summary>IEEE fp32.</summary>
    F32 = 0,
    /// <summary>IEEE fp16.</summary>
    F16 = 1,
    /// <summary>4-bit, blocks of 32 with an fp16 scale.</summary>
    Q4_0 = 2,
    /// <summary>4-bit, blocks of 32 with an fp16 scale and minimum.</summary>
    Q4_1 = 3,
    /// <summary>5-bit, blocks of 32 with an fp16 scale.</summary>
    Q5_0 = 6,
    /// <summary>5-bit, blocks of 32 with an fp16 scale and minimum.</summary>
    Q5_1 = 7,
    /// <summary>8-bit, blocks of 32: an fp16 scale d and 32 int8 q, value = d × q.</summary>
    Q8_0 = 8,
    /// <summary>8-bit, blocks of 32 with an fp16 scale and scaled sum (an intermediate format).</summary>
    Q8_1 = 9,
    /// <summary>2-bit k-quant, super-blocks of 256.</summary>
    Q2_K = 10,
    /// <summary>3-bit k-quant, super-blocks of 256.</summary>
    Q3_K = 11,
    /// <summary>4-bit k-quant, super-blocks of 256.</summary>
    Q4_K = 12,
    /// <summary>5-bit k-quant, super-blocks of 256.</summary>
    Q5_K = 13,
    /// <summary>6-bit k-quant, super-blocks of 256.</summary>
    Q6_K = 14,
    /// <summary>8-bit k-quant, super-blocks of 256 (an intermediate format).</summary>
    Q8_K = 15,
    /// <summary>Importance-matrix 2-bit quant.</summary>
    IQ2_XXS = 16,
    /// <summary>Importance-matrix 2-bit quant.</summary>
    IQ2_XS = 17,
    /// <summary>Importance-matrix 3-bit quant.</summary>
    IQ3_XXS = 18,
    /// <summary>Importance-matrix 1-bit quant.</summary>
    IQ1_S = 19,
    /// <summary>Non-linear 4-bit quant, blocks of 32.</summary>
    IQ4_NL = 20,
    /// <summary>Importance-matrix 3-bit quant.</summary>
    IQ3_S = 21,
    /// <summary>Importance-matrix 2-bit quant.</summary>
    IQ2_S = 22,
    /// <summary>Non-linear 4-bit quant, super-blocks of 256.</summary>
    IQ4_XS = 23,
    /// <summary>int8.</summary>
    I8 = 24,
    /// <summary>int16.</summary>
    I16 = 25,
    /// <summary>int32.</summary>
    I32 = 26,
    /// <summary>int64.</summary>
    I64 = 27,
    /// <summary>IEEE fp64.</summary>
    F64 = 28,
    /// <summary>Importance-matrix 1-bit quant.</summary>
    IQ1_M = 29,
    /// <summary>bfloat16 (the upper half of an fp32).</summary>
    BF16 = 30,
    /// <summary>Ternary quant, super-blocks of 256.</summary>
    TQ1_0 = 34,
    /// <summary>Ternary quant, super-blocks of 256.</summary>
    TQ2_0 = 35,
    /// <summary>Microscaling fp4, blocks of 32.</summary>
    MXFP4 = 39,
}

/// <summary>Storage layout of each <see cref="GgufTensorType"/>: elements per block and bytes per block.</summary>
internal static class GgufTensorTypes
{
    /// <summary>Elements in one Q8_0 block.</summary>
    public const int Q8BlockSize = 32;

    /// <summary>Bytes in one Q8_0 block: an fp16 scale and 32 int8 values.</summary>
    public const int Q8BlockBytes = 2 + Q8BlockSize;

    private const int QK_K = 256;

    /// <summary>
    /// The block layout of <paramref name="type"/>, or false for a number ggml does not define.
    /// Sizes are ggml's <c>type_traits</c> (as listed in gguf-py's GGML_QUANT_SIZES, except Q8_1, see there).
    /// </summary>
    public static bool TryGetLayout(uint type, out int blockSize, out int blockBytes)
    {
        (blockSize, blockBytes) = (GgufTensorType)type switch
        {
            GgufTensorType.F32 => (1, 4),
            GgufTensorType.F16 => (1, 2),
            GgufTensorType.Q4_0 => (32, 2 + 16),
            GgufTensorType.Q4_1 => (32, 2 + 2 + 16),
            GgufTensorType.Q5_0 => (32, 2 + 4 + 16),
            GgufTensorType.Q5_1 => (32, 2 + 2 + 4 + 16),
            GgufTensorType.Q8_0 => (Q8BlockSize, Q8BlockBytes),
            // Two fp16 (scale, scaled sum): ggml's block_q8_1 is 36 bytes; gguf-py's table still says 4 + 4 + 32.
            GgufTensorType.Q8_1 => (32, 2 + 2 + 32),
            GgufTensorType.Q2_K => (QK_K, 2 + 2 + QK_K / 16 + QK_K / 4),
            GgufTensorType.Q3_K => (QK_K, 2 + QK_K / 4 + QK_K / 8 + 12),
            GgufTensorType.Q4_K => (QK_K, 2 + 2 + QK_K / 2 + 12),
            GgufTensorType.Q5_K => (QK_K, 2 + 2 + QK_K / 2 + QK_K / 8 + 12),
            GgufTensorType.Q6_K => (QK_K, 2 + QK_K / 2 + QK_K / 4 + QK_K / 16),
            GgufTensorType.Q8_K => (QK_K, 4 + QK_K + QK_K / 8),
            GgufTensorType.IQ2_XXS => (QK_K, 2 + QK_K / 4),
            GgufTensorType.IQ2_XS => (QK_K, 2 + QK_K / 4 + QK_K / 32),
            GgufTensorType.IQ3_XXS => (QK_K, 2 + QK_K / 4 + QK_K / 8),
            GgufTensorType.IQ1_S => (QK_K, 2 + QK_K / 8 + QK_K / 16),
            GgufTensorType.IQ4_NL => (32, 2 + 16),
            GgufTensorType.IQ3_S => (QK_K, 2 + QK_K / 4 + QK_K / 8 + QK_K / 32 + 4),
            GgufTensorType.IQ2_S => (QK_K, 2 + QK_K / 4 + QK_K / 16),
            GgufTensorType.IQ4_XS => (QK_K, 2 + 2 + QK_K / 2 + QK_K / 64),
            GgufTensorType.I8 => (1, 1),
            GgufTensorType.I16 => (1, 2),
            GgufTensorType.I32 => (1, 4),
            GgufTensorType.I64 => (1, 8),
            GgufTensorType.F64 => (1, 8),
            GgufTensorType.IQ1_M => (QK_K, QK_K / 8 + QK_K / 16 + QK_K / 32),
            GgufTensorType.BF16 => (1, 2),
            GgufTensorType.TQ1_0 => (QK_K, 2 + 4 * 13),
            GgufTensorType.TQ2_0 => (QK_K, 2 + 64),
            GgufTensorType.MXFP4 => (32, 1 + 16),
            _ => (0, 0),
        };
        return blockSize != 0;
    }
}
