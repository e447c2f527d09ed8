using MlPipelines.ManagedEngine.Kernels;

namespace MlPipelines.ManagedEngine.Inference;

/// <summary>One projection <c>Y = X Wᵀ</c> of a chunk of tokens, split over threads by weight rows.</summary>
internal sealed unsafe class ProjectionJob : ParallelJob
{
    public float* W;
    public int Cols;
    public float* X;
    public int Tokens;
    public float* Y;
    public int YStride;

    public override void Execute(int start, int end, int thread) =>
        MatMulKernel.Multiply(W, Cols, X, Tokens, Y, YStride, start, end);
}

/// <summary>
/// Causal attention of a chunk, split over threads by head; each thread has its own score buffer.
/// Token t of the chunk sits at position <c>Start + t</c> and sees positions 0..Start+t.
/// </summary>
internal sealed unsafe class AttentionJob : ParallelJob
{
    public float* Q;                // [tokens, queryDim]
    public float* Output;           // [tokens, queryDim]
    public float* Keys;             // the layer's key cache [seq, kvDim] (fp32)
    public float* Values;
    public ushort* Keys16;          // or fp16, when HalfCache
    public ushort* Values16;
    public bool HalfCache;
    public float[][] Scores = [];   // per thread, pinned, [ChunkCapacity * seq]
    public int Start, Tokens, HeadDim, KvDim, GroupSize, QueryDim;

    public override void Execute(int start, int end, int thread)
    {
        fixed (float* scores = Scores[thread])
        {
            for (int h = start; h < end; h++)
            {
                if (HalfCache)
                    AttentionF16.Chunk(Q + h * HeadDim, QueryDim, Tokens, Start, Keys16, Values16, KvDim, h / GroupSize * HeadDim, HeadDim,
                        Output + h * HeadDim, QueryDim, scores);
                else
                    Attention.Chunk(Q + h * HeadDim, QueryDim, Tokens, Start, Keys, Values, KvDim, h / GroupSize * HeadDim, HeadDim,
                        Output + h * HeadDim, QueryDim, scores);
            }
        }
    }
}

/// <summary>
/// An int8 projection of a chunk: the tokens' activations are quantised beforehand (one
/// <see cref="Quantization.QuantizedVector"/> each); threads split the weight rows.
/// </summary>
internal sealed unsafe class Q8ProjectionJob : ParallelJob
{
    public Quantization.Q8Matrix Matrix = null!;
    public Quantization.QuantizedVector[] Inputs = [];
    public int Tokens;
    public float* Y;
    public int YStride;

    public override void Execute(int start, int end, int thread)
    {
        for (int t = 0; t < Tokens; t++)
            Matrix.MatVec(new Span<float>(Y + (long)t * YStride, Matrix.Rows), Inputs[t], start, end);
    }
}

/// <summary>A projection by a <see cref="WeightStorage.StoredMatrix"/>, split over threads by weight rows.</summary>
internal sealed unsafe class StoredProjectionJob : ParallelJob
{
    public WeightStorage.StoredMatrix Matrix = null!;
    public float* X;                                            // fp32 activations (F16/BF16 weights)
    public float* Rebiased;                                     // X · 2^112 for F16 weights, or null (see HalfRows)
    public WeightStorage.QuantizedActivations? Quantized;       // quantised activations (block formats)
    public int Tokens;
    public float* Y;
    public int YStride;

    public override void Execute(int start, int end, int thread)
    {
        if (Quantized is { } q)
            Matrix.Multiply(q, Tokens, Y, YStride, start, end, KernelPaths.Default);
        else
            Matrix.Multiply(X, Tokens, Y, YStride, start, end, KernelPaths.Default, Rebiased);
    }
}
