namespace MlPipelines.ManagedEngine.WeightStorage;

/// <summary>How a weight matrix is stored, and so which kernels multiply by it.</summary>
public enum WeightFormat
{
    /// <summary>IEEE fp32.</summary>
    F32,
    /// <summary>IEEE fp16, converted to fp32 inside the kernels.</summary>
    F16,
    /// <summary>bfloat16 (the top half of an fp32), converted inside the kernels.</summary>
    BF16,
    /// <summary>ggml Q8_0: blocks of 32 int8 with an fp16 scale.</summary>
    Q8_0,
    /// <summary>ggml Q4_0: blocks of 32 4-bit values (offset 8) with an fp16 scale.</summary>
    Q4_0,
    /// <summary>ggml Q4_1: blocks of 32 4-bit values with an fp16 scale and minimum.</summary>
    Q4_1,
    /// <summary>ggml Q5_0: blocks of 32 5-bit values (offset 16) with an fp16 scale.</summary>
    Q5_0,
    /// <summary>ggml Q5_1: blocks of 32 5-bit values with an fp16 scale and minimum.</summary>
    Q5_1,
    /// <summary>ggml Q4_K: super-blocks of 256 4-bit values, eight 6-bit scales and minimums under fp16 ones.</summary>
    Q4_K,
    /// <summary>ggml Q5_K: as Q4_K with a fifth bit per value.</summary>
    Q5_K,
    /// <summary>ggml Q6_K: super-blocks of 256 6-bit values (offset 32), sixteen int8 scales under an fp16 one.</summary>
    Q6_K,
}
