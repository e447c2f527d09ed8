using MlPipelines.ManagedEngine.Model;
using MlPipelines.ManagedEngine.Quantization;

namespace MlPipelines.ManagedEngine.Inference;

/// <summary>One weight matrix of the forward pass, <c>[Rows, Cols]</c>, in fp32 or int8 (Q8_0).</summary>
internal sealed class Projection
{
    private Projection(int rows, int cols, WeightTensor f32, Q8Matrix? q8)
    {
        Rows = rows;
        Cols = cols;
        F32 = f32;
        Q8 = q8;
    }

    public int Rows { get; }
    public int Cols { get; }

    /// <summary>The fp32 weights (when <see cref="Q8"/> is null).</summary>
    public WeightTensor F32 { get; }

    /// <summary>The int8 weights, or null for an fp32 projection.</summary>
    public Q8Matrix? Q8 { get; }

    public static Projection Of(WeightTensor weights, int rows, int cols) => new(rows, cols, weights, null);

    public static Projection Of(Q8Matrix weights) => new(weights.Rows, weights.Cols, default, weights);
}

/// <summary>A transformer block's weights as the forward pass consumes them.</summary>
internal sealed record BlockWeights(
    WeightTensor RmsAttention, Projection Wq, Projection Wk, Projection Wv, Projection Wo,
    WeightTensor RmsFfn, Projection W1, Projection W2, Projection W3);
