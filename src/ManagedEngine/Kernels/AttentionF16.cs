using System.Numerics.Tensors;
using System.Runtime.CompilerServices;

namespace MlPipelines.ManagedEngine.Kernels;

/// <summary>
/// <see cref="Attention"/> over a KV cache stored as IEEE fp16 bits (half the memory per position), read in place.
/// Blocks of cache rows are widened exactly (every fp16 value is an fp32 value) into a small stack buffer, once per call
/// however many queries the chunk has, and the arithmetic on them is <see cref="Attention"/>'s, step for step: the scores
/// are <see cref="MatMulKernel"/> on the widened key rows, the softmax is the same vectorised one, and each output element
/// of the weighted sum of values is one fused multiply-add chain in position order (the tail past the last multiple of 8
/// unfused). So for the same cache values the output has exactly the bits of
/// <see cref="Attention.Chunk(float*, int, int, int, float*, float*, int, int, int, float*, int, float*)"/> on the widened
/// cache, on every <see cref="KernelPath"/> (the tests hold it to that).
/// </summary>
internal static unsafe partial class AttentionF16
{
    /// <summary>
    /// Floats of widened rows kept on the stack (16 KB): a block of key or value rows is widened once and used by every
    /// query of the chunk while it sits in L1, without a heap buffer or per-thread state.
    /// </summary>
    private const int BlockFloats = 4096;

    /// <summary>One head's attention for one query (see <see cref="Chunk(float*, int, int, int, ushort*, ushort*, int, int, int, float*, int, float*, KernelPath)"/>).</summary>
    /// <param name="output">Receives <c>headDim</c> floats.</param>
    /// <param name="query">The head's query, <c>headDim</c> floats (already rotated).</param>
    /// <param name="keys">The layer's key cache as fp16 bits, row-major <c>[positions, kvDim]</c> or longer.</param>
    /// <param name="values">The layer's value cache, same layout as <paramref name="keys"/>.</param>
    /// <param name="positions">How many cached positions to attend to (current position + 1).</param>
    /// <param name="kvDim">Row stride of the caches, in halves.</param>
    /// <param name="kvOffset">Offset of this head's key/value head within a row.</param>
    /// <param name="scores">Scratch of at least <paramref name="positions"/> floats.</param>
    /// <param name="path">The kernel implementation (all give the same bits).</param>
    /// <exception cref="ArgumentException">The shapes do not fit the buffers.</exception>
    public static void Head(Span<float> output, ReadOnlySpan<float> query, ReadOnlySpan<ushort> keys, ReadOnlySpan<ushort> values,
        int positions, int kvDim, int kvOffset, Span<float> scores, KernelPath path)
    {
        int headDim = query.Length;
        if (output.Length < headDim || scores.Length < positions || kvOffset + headDim > kvDim
            || (long)keys.Length < (long)positions * kvDim || (long)values.Length < (long)positions * kvDim)
            throw new ArgumentException("Attention shapes do not fit.");
        fixed (float* q = query, o = output, s = scores)
        fixed (ushort* k = keys, v = values)
            Chunk(q, headDim, 1, positions - 1, k, v, kvDim, kvOffset, headDim, o, headDim, s, path);
    }

    /// <summary>
    /// One head's attention for a chunk of <paramref name="tokens"/> queries at positions
    /// <c>firstPosition .. firstPosition + tokens - 1</c>; query t attends to cache rows 0..firstPosition+t.
    /// </summary>
    /// <param name="q">First query; query t at <c>q + t * qStride</c>.</param>
    /// <param name="qStride">Distance between queries.</param>
    /// <param name="tokens">Queries in the chunk.</param>
    /// <param name="firstPosition">Position of the first query.</param>
    /// <param name="keys">The layer's key cache as fp16 bits <c>[positions, kvDim]</c>, filled up to the chunk's last position.</param>
    /// <param name="values">The layer's value cache as fp16 bits.</param>
    /// <param name="kvDim">Row stride of the caches, in halves.</param>
    /// <param name="kvOffset">Offset of this head's key/value head within a row.</param>
    /// <param name="headDim">Width of a head.</param>
    /// <param name="output">First output; output t at <c>output + t * outputStride</c>.</param>
    /// <param name="outputStride">Distance between outputs.</param>
    /// <param name="scores">Scratch of <c>tokens * (firstPosition + tokens)</c> floats.</param>
    public static void Chunk(float* q, int qStride, int tokens, int firstPosition, ushort* keys, ushort* values,
        int kvDim, int kvOffset, int headDim, float* output, int outputStride, float* scores) =>
        Chunk(q, qStride, tokens, firstPosition, keys, values, kvDim, kvOffset, headDim, output, outputStride, scores, KernelPaths.Default);

    /// <summary>The same on a chosen <see cref="KernelPath"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    [SkipLocalsInit]   // the block buffer is written before it is read
    public static void Chunk(float* q, int qStride, int tokens, int firstPosition, ushort* keys, ushort* values,
        int kvDim, int kvOffset, int headDim, float* output, int outputStride, float* scores, KernelPath path)
    {
        int total = firstPosition + tokens;
        int blockRows = Math.Max(1, BlockFloats / headDim);
        float* block = stackalloc float[blockRows * headDim];
        Scores(q, qStride, tokens, total, keys + kvOffset, kvDim, headDim, scores, block, blockRows, path);
        // The softmax is Attention.Chunk's, step for step (the bit-for-bit tests fail if the two drift apart).
        float norm = MathF.Sqrt(headDim);
        for (int t = 0; t < tokens; t++)
        {
            var p = new Span<float>(scores + (long)t * total, firstPosition + t + 1);
            TensorPrimitives.Divide(p, norm, p);
            TensorPrimitives.Subtract(p, TensorPrimitives.Max(p), p);
            TensorPrimitives.Exp(p, p);
            TensorPrimitives.Divide(p, TensorPrimitives.Sum(p), p);
        }
        WeightedSums(output, outputStride, tokens, firstPosition, scores, values + kvOffset, kvDim, headDim, block, blockRows, path);
    }

    /// <summary>
    /// <c>scores[t, r] = q_t · k_r</c> for rows 0..total-1: blocks of key rows are widened into <paramref name="block"/> and
    /// given to <see cref="MatMulKernel"/>, whose result for a (row, query) pair does not depend on which rows it is given
    /// with, so the scores are the bits <see cref="Attention"/> computes from the widened cache.
    /// </summary>
    private static void Scores(float* q, int qStride, int tokens, int total, ushort* keys, int kvDim, int headDim, float* scores,
        float* block, int blockRows, KernelPath path)
    {
        for (int r = 0; r < total; r += blockRows)
        {
            int rows = Math.Min(blockRows, total - r);
            KvConvert.ToF32Rows(keys + (long)r * kvDim, kvDim, block, rows, headDim, path);
            MatMulKernel.Multiply(block, headDim, headDim, q, qStride, tokens, scores + r, total, 0, rows, path);
        }
    }

    /// <summary>
    /// <c>o_t = Σ_s p_t[s] · v_s</c> for every query of the chunk. Blocks of value rows are widened once and added into every
    /// query that sees them, so each output element stays one chain in position order, carried from block to block through
    /// the output (storing and reloading a float changes no bit).
    /// </summary>
    private static void WeightedSums(float* output, int outputStride, int tokens, int firstPosition, float* scores, ushort* values,
        int kvDim, int headDim, float* block, int blockRows, KernelPath path)
    {
        int total = firstPosition + tokens;
        for (int t = 0; t < tokens; t++)
            new Span<float>(output + (long)t * outputStride, headDim).Clear();
        for (int r = 0; r < total; r += blockRows)
        {
            int rows = Math.Min(blockRows, total - r);
            KvConvert.ToF32Rows(values + (long)r * kvDim, kvDim, block, rows, headDim, path);
            // Query t sees rows up to firstPosition + t: the first queries of a chunk may not reach this block.
            for (int t = Math.Max(0, r - firstPosition); t < tokens; t++)
            {
                int count = Math.Min(rows, firstPosition + t + 1 - r);
                float* o = output + (long)t * outputStride, p = scores + (long)t * total + r;
                if (path >= KernelPath.Portable256)
                    Accumulate256(o, p, block, count, headDim);
                else
                    Accumulate128(o, p, block, count, headDim, vectors: path == KernelPath.Portable128);
            }
        }
    }
}
