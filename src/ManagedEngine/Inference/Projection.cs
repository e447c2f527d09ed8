using MlPipelines.ManagedEngine.Model;
using MlPipelines.ManagedEngine.Quantization;
using MlPipelines.ManagedEngine.WeightStorage;

namespace MlPipelines.ManagedEngine.Inference;

/// <summary>
/// One weight matrix of the forward pass, <c>[Rows, Cols]</c>: fp32, llama2.c int8 (Q8_0 in its own layout), or a matrix
/// kept as its file stores it (<see cref="StoredMatrix"/>: F16, BF16, ggml blocks).
/// </summary>
internal sealed class Projection
{
    private Projection(int rows, int cols, WeightTensor f32, Q8Matrix? q8, StoredMatrix? stored = null)
    {
        Rows = rows;
        Cols = cols;
        F32 = f32;
        Q8 = q8;
        Stored = stored;
    }

    /// <summary>The stored weights, or null (fp32 or llama2.c int8).</summary>
    public StoredMatrix? Stored { get; }

    public int Rows { get; }
    public int Cols { get; }

    /// <summary>The fp32 weights (when <see cref="Q8"/> is null).</summary>
    public WeightTensor F32 { get; }

    /// <summary>The int8 weights, or null for an fp32 projection.</summary>
    public Q8Matrix? Q8 { get; }

    public static Projection Of(WeightTensor weights, int rows, int cols) => new(rows, cols, weights, null);

    public static Projection Of(Q8Matrix weights) => new(weights.Rows, weights.Cols, default, weights);

    /// <summary>A stored matrix; an fp32 one becomes a plain fp32 projection (the same kernels, the same bits).</summary>
    public static unsafe Projection Of(StoredMatrix weights) => weights.Format == WeightFormat.F32
        ? new(weights.Rows, weights.Cols, new WeightTensor((float*)weights.Data, checked(weights.Rows * weights.Cols)), null)
        : new(weights.Rows, weights.Cols, default, null, weights);
}

/// <summary>A transformer block's weights as the forward pass consumes them.</summary>
internal sealed record BlockWeights(
    WeightTensor RmsAttention, Projection Wq, Projection Wk, Projection Wv, Projection Wo,
    WeightTensor RmsFfn, Projection W1, Projection W2, Projection W3);
