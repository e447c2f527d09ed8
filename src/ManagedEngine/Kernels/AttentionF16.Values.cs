namespace MlPipelines.ManagedEngine.Kernels;

/// <summary>
/// The values' side of <see cref="AttentionF16"/>: a block of widened value rows is added into the outputs by the fp32
/// kernel's own weighted sums (<see cref="Attention.WeightedSum"/>, <see cref="AttentionPortable.WeightedSum"/>), which
/// continue each element's chain from the output's value, so adding a long context block by block gives exactly the
/// bits of one pass over the fp32 cache.
/// </summary>
internal static unsafe partial class AttentionF16
{
    /// <summary>The 256-bit paths: <c>o += Σ p[s] · v_s</c> over <paramref name="count"/> widened rows, <paramref name="headDim"/> floats apart.</summary>
    private static void Accumulate256(float* o, float* p, float* v, int count, int headDim) =>
        Attention.WeightedSum(o, p, v, headDim, count, headDim);

    /// <summary>The 128-bit path (<paramref name="vectors"/>) or the scalar one.</summary>
    private static void Accumulate128(float* o, float* p, float* v, int count, int headDim, bool vectors) =>
        AttentionPortable.WeightedSum(o, p, v, headDim, count, headDim, vectors);
}
